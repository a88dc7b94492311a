/**
 * The fault scenarios' building blocks, with literals (no processes), and
 * the local driver's read-only view of HAProxy's servers through a kill and
 * a start. The fault scenarios themselves run in test/scenarios.test.ts (both
 * proxies, pub/sub adapter) and test/adapters.test.ts (the other adapters).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { counterpartOf } from '../scenarios/cases/recovery.ts';
import { splitLoss } from '../scenarios/cases/redis-restart.ts';
import { acceptedBetween, type FlowProbe, tallyDeliveries } from '../scenarios/lib/broadcast-flow.ts';
import type { PooledClient } from '../scenarios/lib/client-pool.ts';
import { clientCounts, pickVictim } from '../scenarios/lib/fault-watch.ts';
import { liveManagedCount } from '../scenarios/lib/managed-process.ts';
import { waitFor } from '../scenarios/lib/wait-for.ts';
import {
  markDownBoundMs,
  parseCheckTiming,
  parseHaproxyTime,
  repositoryCheckTiming,
} from '../scenarios/local/haproxy-check-timing.ts';
import { LocalTopology } from '../scenarios/local/local-topology.ts';

/** Just the fields the pure helpers read. */
function fakeClient(replica: string, received: Record<string, number> = {}): PooledClient {
  return { replica, received: new Map(Object.entries(received)) } as unknown as PooledClient;
}

function probe(key: string, sentAt: number, accepted = true): FlowProbe {
  return { key, sentAt, accepted, sender: fakeClient('r1') };
}

test('HAProxy times: units, bare milliseconds, and garbage refused', () => {
  assert.equal(parseHaproxyTime('1s'), 1000);
  assert.equal(parseHaproxyTime('250ms'), 250);
  assert.equal(parseHaproxyTime('1500'), 1500);
  assert.equal(parseHaproxyTime('2m'), 120_000);
  assert.throws(() => parseHaproxyTime('1 sec'), /not an HAProxy time/);
});

test('check timing comes from the backend default-server line, with HAProxy defaults for what is missing', () => {
  const config = [
    'defaults',
    '    timeout check 2s',
    'backend other',
    '    default-server inter 9s fall 9',
    'backend replicas',
    '    # default-server inter 7s (a comment, ignored)',
    '    default-server inter 1s fastinter 250ms fall 2 rise 1',
    '    server-template replica 16 x:1 check',
  ].join('\n');
  const timing = parseCheckTiming(config);
  assert.deepEqual(timing, { interMs: 1000, fastinterMs: 250, downinterMs: 1000, fall: 2, rise: 1, checkConnectTimeoutMs: 1000 });
  // 1 s to the first check, 250 ms to the second, each waiting up to min(connect, inter) to connect.
  assert.equal(markDownBoundMs(timing), 3250);
  assert.deepEqual(parseCheckTiming('backend replicas\n    balance leastconn\n'), {
    interMs: 2000,
    fastinterMs: 2000,
    downinterMs: 2000,
    fall: 3,
    rise: 2,
    checkConnectTimeoutMs: 2000,
  });
  // With `timeout check`: min(timeout connect, inter), the backend's timeout over the defaults'.
  const withCheck = parseCheckTiming(
    ['defaults', '    timeout connect 3s', '    timeout check 9s', 'backend replicas', '    timeout connect 400ms', '    default-server inter 1s fall 2'].join('\n'),
  );
  assert.equal(withCheck.checkConnectTimeoutMs, 400);
});

test("the repository's haproxy.cfg marks a dead replica down within 3.25 s of checks", async () => {
  const timing = await repositoryCheckTiming();
  assert.equal(timing.interMs, 1000);
  assert.equal(timing.fall, 2);
  assert.equal(markDownBoundMs(timing), 3250);
});

test('tallyDeliveries counts lost and duplicated per recipient and probe', () => {
  const probes = [probe('a', 1), probe('b', 2)];
  const tally = tallyDeliveries(probes, [fakeClient('r1', { a: 1, b: 2 }), fakeClient('r2', { a: 1 }), fakeClient('r3')]);
  assert.deepEqual(tally, { probes: 2, expected: 6, delivered: 3, lost: 3, duplicated: 1 });
  assert.deepEqual(tallyDeliveries([], [fakeClient('r1')]), { probes: 0, expected: 0, delivered: 0, lost: 0, duplicated: 0 });
});

test('splitLoss counts probes some client of another replica missed, not same-replica gaps', () => {
  // Probes are sent from r1 (see probe()).
  const probes = [probe('a', 1), probe('b', 2), probe('c', 3)];
  const clients = [fakeClient('r1', { a: 1 }), fakeClient('r2', { a: 1, b: 1 }), fakeClient('r3', { a: 1, c: 1 })];
  // b: r3 missed it; c: r2 missed it; r1 missing b and c is a same-replica gap, not counted as a probe here.
  assert.equal(splitLoss(probes, clients).crossReplicaProbes, 2);
  assert.deepEqual(splitLoss(probes, clients), { sameReplica: 2, crossReplica: 2, crossReplicaProbes: 2 });
  assert.equal(splitLoss(probes.slice(0, 1), clients).crossReplicaProbes, 0);
});

test('acceptedBetween keeps accepted probes in [from, to)', () => {
  const probes = [probe('a', 10), probe('b', 20, false), probe('c', 30), probe('d', 40)];
  assert.deepEqual(
    acceptedBetween(probes, 10, 40).map((p) => p.key),
    ['a', 'c'],
  );
  assert.deepEqual(
    acceptedBetween(probes, 25).map((p) => p.key),
    ['c', 'd'],
  );
});

test('pickVictim: most or fewest clients, ties to the lower id', () => {
  const clients = ['r2', 'r1', 'r2', 'r3', 'r3', 'r1', 'r2'].map((replica) => fakeClient(replica));
  assert.deepEqual(Object.fromEntries(clientCounts(clients)), { r2: 3, r1: 2, r3: 2 });
  assert.equal(pickVictim(clients, 'most'), 'r2');
  assert.equal(pickVictim(clients, 'fewest'), 'r1');
  assert.equal(pickVictim([], 'most'), undefined);
});

test('recovery compares streams with classic pub/sub, and any pub/sub adapter with streams', () => {
  assert.equal(counterpartOf('redis-streams'), 'redis');
  assert.equal(counterpartOf('redis'), 'redis-streams');
  assert.equal(counterpartOf('redis-sharded'), 'redis-streams');
});

test('the local driver shows HAProxy marking a killed replica down and a started one up; Nginx shows nothing', { timeout: 90_000 }, async () => {
  const haproxy = await LocalTopology.up({ kind: 'local', proxy: 'haproxy', replicas: 2, adapter: 'redis' });
  try {
    const [first, second] = haproxy.endpoints().replicas;
    const upAddresses = async () =>
      ((await haproxy.proxyServerStates()) ?? [])
        .filter((s) => s.up)
        .map((s) => s.address)
        .sort();
    assert.deepEqual(await upAddresses(), [first!.address, second!.address].sort());
    await haproxy.kill(second!.id, 'SIGKILL');
    assert.deepEqual(
      haproxy.endpoints().replicas.map((r) => r.id),
      [first!.id],
    );
    await waitFor(async () => (await upAddresses()).join() === first!.address, {
      what: 'HAProxy to mark the killed replica down',
      timeoutMs: 10_000,
    });
    await haproxy.start(second!.id);
    assert.deepEqual(await upAddresses(), [first!.address, second!.address].sort());
  } finally {
    await haproxy.down();
  }
  const nginx = await LocalTopology.up({ kind: 'local', proxy: 'nginx', replicas: 1, adapter: 'redis' });
  try {
    assert.equal(await nginx.proxyServerStates(), undefined);
  } finally {
    await nginx.down();
  }
  assert.equal(liveManagedCount(), 0, 'processes still running after down()');
});
