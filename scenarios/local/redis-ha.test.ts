/**
 * The local Sentinel group and Redis Cluster against real redis-server
 * processes: they come up settled, a killed master is replaced, the killed
 * node rejoins, and down() leaves nothing running. Also what the upstream
 * sentinel bug looks like and that RedisConnections' shim answers it.
 */
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createSentinel } from 'redis';
import { createLogger } from '../../server/logger.ts';
import { type RedisClient, RedisConnections } from '../../server/redis-connections.ts';
import { liveManagedCount } from '../lib/managed-process.ts';
import { waitFor } from '../lib/wait-for.ts';
import { parseClusterNodes, parseInfo, redisCommand, SENTINEL_MASTER_NAME, startLocalRedis } from './redis-ha.ts';

const silent = createLogger({ level: 'silent', replica: 'test' });

test('Sentinel group: settled on start, fails over a killed master, takes it back as a replica; the NUMSUB shim', { timeout: 120_000 }, async () => {
  const redis = await startLocalRedis('sentinel', await mkdtemp(join(tmpdir(), 'wsk-sentinel-')));
  const connections = new RedisConnections({
    target: {
      mode: 'sentinel',
      sentinels: redis.replicaEnv.REDIS_SENTINELS!.split(',').map((a) => ({ host: '127.0.0.1', port: Number(a.split(':')[1]) })),
      masterName: SENTINEL_MASTER_NAME,
    },
    logger: silent,
  });
  const raw = createSentinel({
    name: SENTINEL_MASTER_NAME,
    sentinelRootNodes: redis.replicaEnv.REDIS_SENTINELS!.split(',').map((a) => ({ host: '127.0.0.1', port: Number(a.split(':')[1]) })),
  });
  raw.on('error', () => undefined);
  try {
    assert.equal(redis.processes().length, 6, 'a master, two replicas, three sentinels');
    // Upstream, unshimmed: the adapter's client-style call is a sentinel call without arguments.
    await raw.connect();
    const unshimmed = (raw as unknown as { sendCommand(args: string[]): Promise<unknown> }).sendCommand(['PUBSUB', 'NUMSUB', 'ch']);
    await assert.rejects(unshimmed);
    // Through RedisConnections (what the adapters get): the same call answers, even issued before connecting.
    const pub: RedisClient = connections.create('pub');
    const numsub = (await (pub as unknown as { sendCommand(args: string[]): Promise<unknown> }).sendCommand(['PUBSUB', 'NUMSUB', 'ch'])) as unknown[];
    assert.deepEqual(numsub, ['ch', 0]);

    const killed = await redis.killMaster();
    const killedPort = Number(killed.split(':')[1]);
    const sentinelPort = Number(redis.replicaEnv.REDIS_SENTINELS!.split(',')[0]!.split(':')[1]);
    await waitFor(
      async () => {
        const [, port] = (await redisCommand(sentinelPort, ['SENTINEL', 'get-master-addr-by-name', SENTINEL_MASTER_NAME])) as string[];
        return Number(port) !== killedPort;
      },
      { what: 'the sentinels to elect a new master', timeoutMs: 20_000, intervalMs: 200 },
    );
    await waitFor(() => connections.ready, { what: 'the sentinel client to follow the new master', timeoutMs: 20_000 });
    await redis.reviveKilled();
    const info = parseInfo(String(await redisCommand(killedPort, ['INFO', 'replication'])));
    assert.equal(info.role, 'slave');
  } finally {
    raw.destroy();
    await connections.close();
    await redis.down();
  }
  assert.equal(liveManagedCount(), 0, 'processes still running after down()');
});

test('Redis Cluster: six nodes, three masters; a killed master is replaced and rejoins as a replica', { timeout: 120_000 }, async () => {
  const redis = await startLocalRedis('cluster', await mkdtemp(join(tmpdir(), 'wsk-cluster-')));
  try {
    assert.equal(redis.processes().length, 6);
    const [first] = redis.dataPorts();
    const masters = () => redisCommand(first!, ['CLUSTER', 'NODES']).then((text) => parseClusterNodes(String(text)).filter((n) => n.master && !n.failed && n.slots.length > 0));
    assert.equal((await masters()).length, 3);
    const killed = Number((await redis.killMaster('socket.io')).split(':')[1]);
    const alive = redis.dataPorts().find((port) => port !== killed)!;
    await waitFor(
      async () => {
        const nodes = parseClusterNodes(String(await redisCommand(alive, ['CLUSTER', 'NODES'])));
        const serving = nodes.filter((n) => n.master && !n.failed && n.slots.length > 0);
        return serving.length === 3 && !serving.some((n) => n.port === killed);
      },
      { what: "a replica to take over the killed master's slots", timeoutMs: 20_000, intervalMs: 200 },
    );
    await redis.reviveKilled();
    assert.equal(parseInfo(String(await redisCommand(killed, ['INFO', 'replication']))).role, 'slave');
  } finally {
    await redis.down();
  }
  assert.equal(liveManagedCount(), 0, 'processes still running after down()');
});
