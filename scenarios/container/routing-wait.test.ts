import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { routingShortfall, waitForRouting } from './routing-wait.ts';

describe('routingShortfall (pure)', () => {
  it('cookie affinity: every expected replica answers, no other', () => {
    assert.equal(routingShortfall(new Set(['a', 'b']), ['a', 'b'], 'cookie'), undefined);
    assert.equal(routingShortfall(new Set(['a']), ['a', 'b'], 'cookie'), 'no client reached b yet');
    assert.equal(routingShortfall(new Set(['a', 'b', 'old']), ['a', 'b'], 'cookie'), 'routed to unexpected replicas old');
  });

  it('source-ip affinity: any expected replica will do, no other', () => {
    assert.equal(routingShortfall(new Set(['b']), ['a', 'b'], 'source-ip'), undefined);
    assert.equal(routingShortfall(new Set(), ['a'], 'source-ip'), 'no client got through');
    assert.equal(routingShortfall(new Set(['c']), ['a', 'b'], 'source-ip'), 'routed to unexpected replicas c');
  });
});

describe('waitForRouting', () => {
  it('polls the sampler until a sample satisfies the wait', async () => {
    const samples = [new Set(['a']), new Set(['a', 'gone']), new Set(['a', 'b'])];
    const asked: number[] = [];
    await waitForRouting('http://127.0.0.1:1', ['a', 'b'], {
      affinity: 'cookie',
      timeoutMs: 5_000,
      intervalMs: 1,
      sample: async (_url, count) => {
        asked.push(count);
        return samples.shift() ?? new Set();
      },
    });
    assert.deepEqual(asked, [6, 6, 6], 'three clients per replica, three samples');
  });

  it('times out naming the proxy, the replicas and the last shortfall', async () => {
    await assert.rejects(
      waitForRouting('http://127.0.0.1:1', ['a', 'b'], { affinity: 'cookie', timeoutMs: 50, intervalMs: 5, sample: async () => new Set(['a']) }),
      /timed out after 50 ms waiting for the proxy at http:\/\/127\.0\.0\.1:1 \(cookie affinity\) to route to exactly the replicas a, b; last error: no client reached b yet/,
    );
  });

  it('expects nothing of zero replicas', async () => {
    await waitForRouting('http://127.0.0.1:1', [], { affinity: 'cookie', timeoutMs: 1, sample: async () => assert.fail('not sampled') });
  });
});
