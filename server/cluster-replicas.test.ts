import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { collectReplicas } from './cluster-replicas.ts';
import type { ReplicaServer } from './socket-types.ts';

type Ack = (error: unknown, responses: unknown) => void;

/** Just enough of a Socket.IO server: an adapter whose serverSideEmit does what the test says. */
function fakeServer(serverSideEmit: (packet: unknown[]) => unknown): ReplicaServer {
  return { of: () => ({ adapter: { serverSideEmit } }) } as unknown as ReplicaServer;
}

const self = () => ({ replica: 'b', clients: 2 });

describe('collectReplicas', () => {
  it('adds this replica to the answers, sorted by id, complete when all answered', async () => {
    const io = fakeServer((packet) => {
      assert.equal(packet[0], 'replica:info');
      (packet[1] as Ack)(null, [
        { replica: 'c', clients: 0 },
        { replica: 'a', clients: 5 },
      ]);
    });
    assert.deepEqual(await collectReplicas(io, self, 1000), {
      replicas: [
        { replica: 'a', clients: 5 },
        { replica: 'b', clients: 2 },
        { replica: 'c', clients: 0 },
      ],
      complete: true,
    });
  });

  it('keeps partial answers and reports incomplete when the adapter timed out', async () => {
    const io = fakeServer((packet) => (packet[1] as Ack)(new Error('timeout reached'), [{ replica: 'a', clients: 1 }]));
    const result = await collectReplicas(io, self, 1000);
    assert.equal(result.complete, false);
    assert.deepEqual(
      result.replicas.map((r) => r.replica),
      ['a', 'b'],
    );
  });

  it('drops malformed answers', async () => {
    const io = fakeServer((packet) => (packet[1] as Ack)(null, [{ replica: 1 }, null, 'x', { replica: 'a', clients: 1 }]));
    assert.deepEqual(
      (await collectReplicas(io, self, 1000)).replicas.map((r) => r.replica),
      ['a', 'b'],
    );
  });

  it('is incomplete, not stuck, when the adapter never calls back', async () => {
    const started = Date.now();
    const result = await collectReplicas(
      fakeServer(() => undefined),
      self,
      100,
    );
    assert.deepEqual(result, { replicas: [self()], complete: false });
    assert.ok(Date.now() - started < 1000);
  });

  it('is incomplete, never rejecting, when the adapter throws or its promise rejects', async () => {
    const throwing = fakeServer(() => {
      throw new Error('this adapter does not support the serverSideEmit() functionality');
    });
    assert.equal((await collectReplicas(throwing, self, 1000)).complete, false);
    const rejecting = fakeServer(() => Promise.reject(new Error('redis down')));
    assert.equal((await collectReplicas(rejecting, self, 1000)).complete, false);
  });
});
