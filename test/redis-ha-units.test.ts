/**
 * The Redis HA pieces that need no process: parsers of Redis' own replies,
 * the partition's ss/iptables plumbing, the sentinel sendCommand shim, and
 * the failover scenarios' arithmetic, all with literals.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deafMs } from '../scenarios/cases/partition.ts';
import { adapterKey, resumedAfter } from '../scenarios/cases/redis-failover.ts';
import type { FlowProbe } from '../scenarios/lib/broadcast-flow.ts';
import type { PooledClient } from '../scenarios/lib/client-pool.ts';
import { deliveryGap } from '../scenarios/lib/redis-fault.ts';
import { parseClusterNodes, parseInfo, replyFields } from '../scenarios/local/redis-ha.ts';
import { connectionsOf, dropRules } from '../scenarios/local/redis-partition.ts';
import { sentinelSendCommand } from '../server/redis-connections.ts';

function client(received: string[]): PooledClient {
  return { replica: 'r', received: new Map(received.map((key) => [key, 1])) } as unknown as PooledClient;
}
function probe(key: string, sentAt: number, accepted = true): FlowProbe {
  return { key, sentAt, accepted, sender: client([]) };
}

test('parseInfo reads INFO fields and skips section headers', () => {
  assert.deepEqual(parseInfo('# Replication\r\nrole:slave\r\nmaster_link_status:up\r\n\r\n'), {
    role: 'slave',
    master_link_status: 'up',
  });
});

test('parseClusterNodes reads ports, roles, failure flags and slot ranges', () => {
  const text = [
    'a1 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460',
    'b2 127.0.0.1:7001@17001 master,fail - 0 0 2 connected 5461-10922 12000',
    'c3 127.0.0.1:7003@17003 slave a1 0 0 1 connected',
  ].join('\n');
  assert.deepEqual(parseClusterNodes(text), [
    { id: 'a1', port: 7000, master: true, failed: false, slots: [[0, 5460]] },
    { id: 'b2', port: 7001, master: true, failed: true, slots: [[5461, 10922], [12000, 12000]] },
    { id: 'c3', port: 7003, master: false, failed: false, slots: [] },
  ]);
});

test('replyFields reads a SENTINEL REPLICAS entry in RESP2 (flat array) and RESP3 (map) form', () => {
  assert.deepEqual(replyFields(['port', '6380', 'flags', 'slave']), { port: '6380', flags: 'slave' });
  assert.deepEqual(replyFields(new Map([['flags', 's_down,slave']])), { flags: 's_down,slave' });
  assert.deepEqual(replyFields(null), {});
});

test('connectionsOf keeps only the given process and the Redis ports', () => {
  const ss = [
    '0 0 127.0.0.1:41234 127.0.0.1:6380 users:(("node",pid=123,fd=21))',
    '0 0 127.0.0.1:41235 127.0.0.1:6380 users:(("node",pid=1234,fd=22))',
    '0 0 127.0.0.1:41236 127.0.0.1:9999 users:(("node",pid=123,fd=23))',
    '0 0 127.0.0.1:6380 127.0.0.1:41234 users:(("redis-server",pid=77,fd=9))',
  ].join('\n');
  assert.deepEqual(connectionsOf(ss, 123, [6380]), [{ localPort: 41234, peerPort: 6380 }]);
  assert.deepEqual(connectionsOf(ss, 5, [6380]), []);
});

test('dropRules drops both directions of one connection, tagged', () => {
  const [out, back] = dropRules('-I', { localPort: 41234, peerPort: 6380 }, 'tag-1');
  assert.deepEqual(out!.slice(0, 3), ['-w', '-I', 'OUTPUT']);
  assert.equal(out!.join(' ').includes('--sport 41234 --dport 6380'), true);
  assert.equal(back!.join(' ').includes('--sport 6380 --dport 41234'), true);
  assert.equal(out!.join(' ').endsWith('--comment tag-1 -j DROP'), true);
  assert.equal(dropRules('-D', { localPort: 1, peerPort: 2 })[0]![1], '-D');
});

test('sentinelSendCommand turns a client-style call into the sentinel signature, on the master', () => {
  const calls: unknown[][] = [];
  const send = (...args: unknown[]) => {
    calls.push(args);
    return 'ok';
  };
  assert.equal(sentinelSendCommand(send, [['PUBSUB', 'NUMSUB', 'ch'], { x: 1 }]), 'ok');
  sentinelSendCommand(send, [true, ['GET', 'k']]);
  assert.deepEqual(calls, [
    [false, ['PUBSUB', 'NUMSUB', 'ch'], { x: 1 }],
    [true, ['GET', 'k'], undefined],
  ]);
});

test('resumedAfter finds the first probe after which nothing was missed', () => {
  const probes = [probe('a', 5), probe('b', 10), probe('c', 20), probe('d', 30), probe('e', 40, false)];
  // Everyone has a and d; b and c missed by the second client.
  const recipients = [client(['a', 'b', 'c', 'd']), client(['a', 'd'])];
  assert.equal(resumedAfter(probes, recipients, 8), 22);
  assert.equal(resumedAfter(probes, [client(['a', 'b', 'c', 'd'])], 8), 2);
  assert.equal(resumedAfter(probes, [client([])], 8), -1);
  assert.equal(resumedAfter([], recipients, 0), -1);
});

test('deliveryGap and deafMs count only accepted probes from the fault on', () => {
  const probes = [probe('a', 5), probe('b', 10), probe('c', 20), probe('d', 30, false)];
  const recipients = [client(['a', 'c']), client(['a'])];
  assert.deepEqual(deliveryGap(probes, recipients, 8), { lostProbes: 2, lostDeliveries: 3, lastLossMs: 12 });
  assert.equal(deafMs(probes, recipients[1]!, 8), 12);
  assert.equal(deafMs(probes, client(['a', 'b', 'c']), 8), 0);
});

test('adapterKey names the key whose slot carries each adapter', () => {
  assert.equal(adapterKey('redis-streams'), 'socket.io');
  assert.equal(adapterKey('redis-sharded'), 'socket.io#/#');
});
