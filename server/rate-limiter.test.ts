import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RateLimitConfig } from './config.ts';
import { RATE_LIMIT_WINDOW_MS, rateLimitCheck, SocketRateLimit, TokenBucket } from './rate-limiter.ts';
import type { ReplicaSocket } from './socket-types.ts';

describe('TokenBucket', () => {
  it('lets a full burst through at once, then one event per 1/rate seconds', () => {
    const bucket = new TokenBucket(10, 3, 0);
    assert.deepEqual([bucket.take(0), bucket.take(0), bucket.take(0), bucket.take(0)], [true, true, true, false]);
    assert.equal(bucket.take(50), false, 'half a token after 50 ms at 10/s');
    assert.equal(bucket.take(100), true, 'a whole token after 100 ms');
    assert.equal(bucket.take(100), false);
  });

  it('refills up to its capacity and no further, and ignores a clock going backwards', () => {
    const bucket = new TokenBucket(1000, 2, 0);
    for (let i = 0; i < 2; i++) bucket.take(0);
    const afterLongPause = [1, 2, 3].map(() => bucket.take(60_000));
    assert.deepEqual(afterLongPause, [true, true, false]);
    assert.equal(bucket.take(59_000), false, 'time going backwards adds nothing');
  });
});

describe('SocketRateLimit', () => {
  const config = (disconnectAfter: number): RateLimitConfig => ({ eventsPerSec: 10, burst: 2, disconnectAfter });

  it('refuses above the limit and disconnects once after more than disconnectAfter refusals in the window', () => {
    const limit = new SocketRateLimit(config(3), 0);
    const decisions = Array.from({ length: 7 }, () => limit.check(0));
    assert.deepEqual(decisions, ['allow', 'allow', 'refuse', 'refuse', 'refuse', 'disconnect', 'refuse']);
    assert.equal(limit.check(10_000_000), 'refuse', 'once cut off, always refused');
  });

  it('forgets refusals older than the window: a client that only brushes the limit is never cut off', () => {
    const limit = new SocketRateLimit(config(3), 0);
    let now = 0;
    const seen = new Set<string>();
    // 3 refusals per window, for 10 windows.
    for (let window = 0; window < 10; window++) {
      now = window * RATE_LIMIT_WINDOW_MS;
      for (let i = 0; i < 5; i++) seen.add(limit.check(now));
    }
    assert.deepEqual([...seen].sort(), ['allow', 'refuse']);
  });

  it('never disconnects with disconnectAfter = 0', () => {
    const limit = new SocketRateLimit(config(0), 0);
    const decisions = new Set(Array.from({ length: 10_000 }, () => limit.check(0)));
    assert.deepEqual([...decisions].sort(), ['allow', 'refuse']);
  });
});

describe('rateLimitCheck', () => {
  it('is off (undefined) when RATE_LIMIT_EVENTS_PER_SEC is 0', () => {
    assert.equal(rateLimitCheck({ eventsPerSec: 0, burst: 100, disconnectAfter: 500 }), undefined);
  });

  it('keeps one bucket per socket and answers RATE_LIMITED; the abusive socket is disconnected after its reply', async () => {
    let now = 0;
    const check = rateLimitCheck({ eventsPerSec: 1, burst: 1, disconnectAfter: 1 }, { now: () => now });
    assert.ok(check);
    const disconnected: string[] = [];
    const fake = (id: string) => ({ id, disconnect: () => disconnected.push(id) }) as unknown as ReplicaSocket;
    const a = fake('a');
    const b = fake('b');
    assert.equal(check(a, 'broadcast', []), undefined);
    assert.equal(check(b, 'broadcast', []), undefined, 'b has its own bucket');
    assert.equal(check(a, 'whoami', [])?.error.code, 'RATE_LIMITED');
    assert.match(check(a, 'whoami', [])?.error.message ?? '', /disconnecting/);
    assert.deepEqual(disconnected, [], 'not before the refusal went out');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(disconnected, ['a']);
    now = 1000;
    assert.equal(check(b, 'broadcast', []), undefined);
  });
});
