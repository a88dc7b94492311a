/**
 * RedisConnections against a real redis-server: the PING watchdog notices a
 * connection whose packets are dropped (iptables, so root only) within its
 * bound, reports it unresponsive, calls onLost once after lostAfterMs, and
 * is ready again once the network heals; and it does not mistake a blocking
 * read (the streams adapter's idle XREAD BLOCK) for a dead connection. Every
 * rule and process it started is removed, even on failure.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { freeTcpPort } from '../scenarios/lib/free-port.ts';
import { liveManagedCount } from '../scenarios/lib/managed-process.ts';
import { waitFor } from '../scenarios/lib/wait-for.ts';
import { canPartition, cutFromRedis, removePartitionRules } from '../scenarios/local/redis-partition.ts';
import { startLocalRedis } from '../scenarios/local/redis-ha.ts';
import { startRedisServer } from '../scenarios/local/redis-server.ts';
import { createLogger } from './logger.ts';
import { RedisConnections, SENTINEL_QUIET_MS, staleSentinelError } from './redis-connections.ts';

const PING_INTERVAL_MS = 200;
const PING_TIMEOUT_MS = 400;
const LOST_AFTER_MS = 1000;

test('a silently dropped connection is unresponsive within interval + timeout, lost after the bound, ready once healed', async (t) => {
  if (!(await canPartition())) {
    t.skip('needs root and iptables');
    return;
  }
  const redis = await startRedisServer();
  const lost: number[] = [];
  const connections = new RedisConnections({
    target: { mode: 'standalone', url: redis.url },
    logger: createLogger({ level: 'silent', replica: 'test' }),
    pingIntervalMs: PING_INTERVAL_MS,
    pingTimeoutMs: PING_TIMEOUT_MS,
    lostAfterMs: LOST_AFTER_MS,
    onLost: (ms) => lost.push(ms),
  });
  let heal: (() => Promise<void>) | undefined;
  try {
    const sub = connections.create('sub');
    connections.create('pub');
    await sub.subscribe('ch', () => undefined);
    await waitFor(() => connections.ready, { what: 'both connections ready', timeoutMs: 5000 });
    // Healthy connections stay ready across many PINGs (the subscriber too: PING is allowed there).
    await new Promise((resolve) => setTimeout(resolve, 5 * PING_INTERVAL_MS));
    assert.deepEqual(connections.states(), { sub: 'ready', pub: 'ready' });

    const cutAt = performance.now();
    heal = await cutFromRedis(process.pid, [redis.port]);
    await waitFor(() => Object.values(connections.states()).every((s) => s === 'unresponsive'), {
      what: 'both connections to be unresponsive',
      timeoutMs: 2 * PING_INTERVAL_MS + PING_TIMEOUT_MS + 1000,
    });
    const detectedMs = performance.now() - cutAt;
    assert.ok(detectedMs >= PING_TIMEOUT_MS, `noticed after ${detectedMs} ms, before any PING could time out`);
    assert.equal(connections.ready, false);
    await waitFor(() => lost.length === 1, { what: 'onLost to be called', timeoutMs: LOST_AFTER_MS + 3000 });
    assert.ok(lost[0]! >= LOST_AFTER_MS, `onLost after ${lost[0]} ms`);

    await heal();
    heal = undefined;
    // TCP retransmits with exponential backoff: the first retransmission after healing can take seconds.
    await waitFor(() => connections.ready, { what: 'the connections to answer PING after healing', timeoutMs: 30_000, intervalMs: 100 });
    assert.equal(lost.length, 1, 'onLost once per outage');
  } finally {
    if (heal) await heal();
    await removePartitionRules();
    await connections.close();
    await redis.stop();
  }
  assert.equal(liveManagedCount(), 0);
});

test('an idle blocking XREAD (streams adapter) does not make its connection unresponsive', async () => {
  const redis = await startRedisServer();
  const connections = new RedisConnections({
    target: { mode: 'standalone', url: redis.url },
    logger: createLogger({ level: 'silent', replica: 'test' }),
    pingIntervalMs: PING_INTERVAL_MS,
    pingTimeoutMs: PING_TIMEOUT_MS,
  });
  try {
    const main = connections.create('main');
    const reader = main.duplicate();
    await reader.connect();
    await waitFor(() => connections.ready, { what: 'both connections ready', timeoutMs: 5000 });
    const states: string[] = [];
    const sampler = setInterval(() => states.push(...Object.values(connections.states())), 100);
    // Two idle reads, each blocking far longer than the PING timeout, as the adapter's loop does.
    for (let i = 0; i < 2; i++) await reader.xRead({ key: 'wsk-test-stream', id: '$' }, { BLOCK: 4 * PING_TIMEOUT_MS });
    clearInterval(sampler);
    assert.ok(states.length > 20, `sampled ${states.length} states`);
    assert.deepEqual([...new Set(states)], ['ready'], 'a blocked reader was reported not ready');
  } finally {
    await connections.close();
    await redis.stop();
  }
  assert.equal(liveManagedCount(), 0);
});

test('sentinel: errors of node clients aimed at a former master are told apart from the master’s own', () => {
  const client = { getMasterNode: () => ({ host: 'redis-replica-1', port: 6379 }) };
  // The pubsub proxy's leaked client, still retrying the dead master's name.
  assert.equal(staleSentinelError(client, Object.assign(new Error('getaddrinfo ENOTFOUND redis'), { hostname: 'redis' })), true);
  // Same host, another port (every local node is 127.0.0.1).
  const local = { getMasterNode: () => ({ host: '127.0.0.1', port: 7002 }) };
  assert.equal(staleSentinelError(local, Object.assign(new Error('connect ECONNREFUSED'), { address: '127.0.0.1', port: 7001 })), true);
  assert.equal(staleSentinelError(local, Object.assign(new Error('connect ECONNREFUSED'), { address: '127.0.0.1', port: 7002 })), false);
  // No address in it (a socket closed under us), or no master known yet: it counts.
  assert.equal(staleSentinelError(client, new Error('Socket closed unexpectedly')), false);
  assert.equal(staleSentinelError({ getMasterNode: () => undefined }, Object.assign(new Error('x'), { hostname: 'redis' })), false);
  assert.equal(staleSentinelError(client, 'a string'), false);
  // The sentinel side, not a data node: the observer's per-sentinel errors (a string, node-redis' spelling)
  // and its sentinel connection's.
  assert.equal(staleSentinelError(client, 'obseve client error: Error: getaddrinfo ENOTFOUND sentinel-1'), true);
  assert.equal(staleSentinelError(client, new Error('Sentinel Client (sentinel-2:26379): Socket closed unexpectedly')), true);
  assert.equal(staleSentinelError(client, new Error('Master Client (redis-replica-1:6379): Socket closed unexpectedly')), false);
});

/**
 * A replica that starts while no sentinel answers (Swarm starts every
 * service at once; a sentinel host may be down): node-redis' sentinel client
 * gives its first connection 16 tries a second apart and then gives up for
 * good, which left the replica not ready for ever with /healthz fine. Now
 * onGaveUp fires (main exits on it, and the orchestrator restarts the
 * replica); a connection that does connect never fires it, and neither does
 * a close before the first connection.
 */
test('sentinel: a first connection that gives up is reported (onGaveUp), once', async () => {
  const sentinelPort = await freeTcpPort();
  const gaveUp: string[] = [];
  const connections = new RedisConnections({
    target: { mode: 'sentinel', sentinels: [{ host: '127.0.0.1', port: sentinelPort }], masterName: 'nobody' },
    logger: createLogger({ level: 'silent', replica: 'test' }),
    onGaveUp: (name) => gaveUp.push(name),
  });
  const closedEarly = new RedisConnections({
    target: { mode: 'sentinel', sentinels: [{ host: '127.0.0.1', port: sentinelPort }], masterName: 'nobody' },
    logger: createLogger({ level: 'silent', replica: 'test' }),
    onGaveUp: (name) => gaveUp.push(`early-${name}`),
  });
  try {
    connections.create('pub');
    closedEarly.create('pub');
    await closedEarly.close();
    await waitFor(() => gaveUp.length > 0, { what: 'onGaveUp after node-redis’ 16 tries', timeoutMs: 40_000, intervalMs: 200 });
    assert.deepEqual(gaveUp, ['pub']);
    assert.equal(connections.ready, false);
  } finally {
    await connections.close();
    await closedEarly.close();
  }
});

/**
 * Found on Swarm (streams adapter, Sentinel): after an error (there, the
 * sentinel observer's ENOTFOUND, now ignored) a connection is 'reconnecting'
 * until quiet for SENTINEL_QUIET_MS with a PING answered since; but the
 * streams adapter's reader always has an XREAD BLOCK out, is never PINGed,
 * and stayed 'reconnecting' for ever (/readyz 503, then the drain closed
 * every client). A blocking read that returns is an answer too.
 */
test('sentinel: a connection busy with blocking reads recovers from an error once quiet', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'wsk-sentinel-quiet-'));
  const redis = await startLocalRedis('sentinel', dir);
  const env = redis.replicaEnv;
  const connections = new RedisConnections({
    target: {
      mode: 'sentinel',
      sentinels: (env.REDIS_SENTINELS ?? '').split(',').map((hostPort) => {
        const [host, port] = hostPort.split(':');
        return { host: host!, port: Number(port) };
      }),
      masterName: env.REDIS_SENTINEL_MASTER ?? '',
    },
    logger: createLogger({ level: 'silent', replica: 'test' }),
    pingIntervalMs: 200,
  });
  let reading = true;
  let loop: Promise<void> | undefined;
  try {
    const reader = connections.create('reader');
    await waitFor(() => connections.ready, { what: 'the connection to be ready', timeoutMs: 10_000 });
    // As the streams adapter does: one XREAD BLOCK after another, always one out.
    loop = (async () => {
      for (let i = 0; i < 100 && reading; i++) await reader.xRead({ key: 'wsk-quiet', id: '$' }, { BLOCK: 500 });
    })();
    await new Promise((resolve) => setTimeout(resolve, 300));
    // An error that counts: no address says it is about another node.
    reader.emit('error', new Error('Socket closed unexpectedly'));
    assert.deepEqual(connections.states(), { reader: 'reconnecting' });
    await waitFor(() => connections.ready, { what: 'the reader to count as ready again once quiet', timeoutMs: SENTINEL_QUIET_MS + 5000, intervalMs: 100 });
  } finally {
    // The read in flight ends within its 500 ms block; then close.
    reading = false;
    await loop?.catch(() => undefined);
    await connections.close();
    await redis.down();
    await rm(dir, { recursive: true, force: true });
  }
  assert.equal(liveManagedCount(), 0);
});
