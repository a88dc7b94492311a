import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { $ } from 'zx';
import { createClient } from 'redis';
import { freeTcpPort, isTcpPortFreeOn } from '../lib/free-port.ts';
import { type ManagedProcess, spawnManaged } from '../lib/managed-process.ts';
import { waitFor } from '../lib/wait-for.ts';
import type { RedisMode } from '../topology.ts';
import { findExecutable, pingRedis, RedisServerMissingError, type RedisServerHandle, startRedisServer } from './redis-server.ts';

/** The master name the local sentinels monitor. */
export const SENTINEL_MASTER_NAME = 'wsk';
/** Sentinel's `down-after-milliseconds` and the cluster's `cluster-node-timeout`: how long a dead master goes unnoticed. */
export const REDIS_NODE_TIMEOUT_MS = 1000;
const SETTLE_TIMEOUT_MS = 30_000;

/**
 * The Redis a local topology runs, whatever its mode: standalone (one
 * server), Sentinel (a master, two replicas, three sentinels) or Cluster
 * (three masters, three replicas). All on loopback, free ports.
 */
export interface LocalRedis {
  readonly mode: RedisMode;
  /** The replicas' REDIS_* environment for this deployment. */
  readonly replicaEnv: Readonly<Record<string, string>>;
  /** A redis:// URL of one data node (standalone: the server; otherwise the current master or a seed). */
  readonly url: string;
  /** Ports of the data nodes (what the replicas' connections go to). */
  dataPorts(): number[];
  /** Running processes with their pids. */
  processes(): Array<{ name: string; pid: number }>;
  /** Full outage and back (standalone only: the HA modes fail over instead). */
  stop(): Promise<void>;
  start(): Promise<void>;
  /**
   * kill -9 a master (Sentinel: the current one; Cluster: the one serving
   * `key`'s slot) and resolve with its host:port once it has exited.
   */
  killMaster(key?: string): Promise<string>;
  /** Start what killMaster killed again; resolves once it has rejoined as a replica (and the group has settled). */
  reviveKilled(): Promise<void>;
  /**
   * Sentinel only: `SENTINEL FAILOVER` (an operator's switchover: the master
   * is demoted, not killed); resolves with the new master's host:port.
   */
  switchover?(): Promise<string>;
  down(): Promise<void>;
}

/** One command against one node, on a short-lived connection, bounded. */
export async function redisCommand(port: number, args: readonly string[], timeoutMs = 2000): Promise<unknown> {
  const client = createClient({ socket: { host: '127.0.0.1', port, connectTimeout: timeoutMs, reconnectStrategy: false } });
  client.on('error', () => undefined);
  let timer: NodeJS.Timeout | undefined;
  try {
    const bound = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`redis 127.0.0.1:${port} did not answer ${args[0]} within ${timeoutMs} ms`)), timeoutMs);
    });
    return await Promise.race([client.connect().then(() => client.sendCommand([...args])), bound]);
  } finally {
    clearTimeout(timer);
    client.destroy();
  }
}

/** `INFO` text → field map. */
export function parseInfo(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const at = line.indexOf(':');
    if (at > 0 && !line.startsWith('#')) fields[line.slice(0, at)] = line.slice(at + 1).trim();
  }
  return fields;
}

export interface ClusterNodeLine {
  id: string;
  port: number;
  master: boolean;
  failed: boolean;
  /** Inclusive slot ranges this node serves. */
  slots: Array<[number, number]>;
}

/** `CLUSTER NODES` text → its nodes (only what the topology needs). */
export function parseClusterNodes(text: string): ClusterNodeLine[] {
  const nodes: ClusterNodeLine[] = [];
  for (const line of text.trim().split('\n')) {
    const fields = line.trim().split(' ');
    if (fields.length < 8) continue;
    const port = Number(/:(\d+)@/.exec(fields[1] ?? '')?.[1]);
    const flags = (fields[2] ?? '').split(',');
    const slots: Array<[number, number]> = [];
    for (const range of fields.slice(8)) {
      const match = /^(\d+)(?:-(\d+))?$/.exec(range);
      if (match) slots.push([Number(match[1]), Number(match[2] ?? match[1])]);
    }
    nodes.push({ id: fields[0] ?? '', port, master: flags.includes('master'), failed: flags.includes('fail'), slots });
  }
  return nodes;
}

export async function startLocalRedis(mode: RedisMode, logDir: string): Promise<LocalRedis> {
  switch (mode) {
    case 'standalone':
      return standalone(logDir);
    case 'sentinel':
      return sentinelGroup(logDir);
    case 'cluster':
      return cluster(logDir);
  }
}

async function standalone(logDir: string): Promise<LocalRedis> {
  // Persistent like the Compose and Swarm Redis, so a Redis restart here is the one users get.
  const redis = await startRedisServer({ logFile: join(logDir, 'redis.log'), dataDir: join(logDir, 'redis-data') });
  return {
    mode: 'standalone',
    replicaEnv: { REDIS_URL: redis.url },
    url: redis.url,
    dataPorts: () => [redis.port],
    processes: () => (redis.pid === undefined ? [] : [{ name: 'redis', pid: redis.pid }]),
    stop: () => redis.stop(),
    start: () => redis.start(),
    killMaster: async () => {
      await redis.kill();
      return `${redis.host}:${redis.port}`;
    },
    reviveKilled: () => redis.start(),
    down: () => redis.stop(),
  };
}

/** Stop everything in `started` (newest first), never throwing. */
async function stopAll(started: ReadonlyArray<{ stop(): Promise<unknown> }>): Promise<void> {
  await Promise.allSettled([...started].reverse().map((item) => item.stop()));
}

async function sentinelGroup(logDir: string): Promise<LocalRedis> {
  const executable = findExecutable('redis-server');
  if (!executable) throw new RedisServerMissingError('redis-server');
  const nodes: RedisServerHandle[] = [];
  const sentinels: Array<{ port: number; process: ManagedProcess }> = [];
  const stoppable = () => [...nodes, ...sentinels.map((s) => ({ stop: () => s.process.stop(3000) }))];
  const killed = new Set<RedisServerHandle>();
  try {
    // Fresh data per run: an old run's AOF must not become this group's data.
    await mkdir(logDir, { recursive: true });
    const dataRoot = await mkdtemp(join(logDir, 'redis-sentinel-'));
    const node = (name: string, extraArgs: string[] = []) =>
      startRedisServer({ logFile: join(logDir, `${name}.log`), dataDir: join(dataRoot, name), extraArgs });
    const master = await node('redis-master');
    nodes.push(master);
    for (const name of ['redis-replica-1', 'redis-replica-2']) {
      nodes.push(await node(name, ['--replicaof', '127.0.0.1', String(master.port)]));
    }
    for (let i = 1; i <= 3; i++) {
      const port = await freeTcpPort();
      const dir = join(dataRoot, `sentinel-${i}`);
      await mkdir(dir, { recursive: true });
      const conf = join(dir, 'sentinel.conf');
      // Sentinel rewrites its own file (it records what it learns), so each gets its own.
      await writeFile(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          'daemonize no',
          `dir ${dir}`,
          `sentinel monitor ${SENTINEL_MASTER_NAME} 127.0.0.1 ${master.port} 2`,
          `sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} ${REDIS_NODE_TIMEOUT_MS}`,
          `sentinel failover-timeout ${SENTINEL_MASTER_NAME} 10000`,
          `sentinel parallel-syncs ${SENTINEL_MASTER_NAME} 1`,
          '',
        ].join('\n'),
      );
      const process = spawnManaged(executable, [conf, '--sentinel'], { name: `sentinel-${i}`, logFile: join(logDir, `sentinel-${i}.log`) });
      sentinels.push({ port, process });
      await waitFor(() => pingRedis('127.0.0.1', port), { what: `sentinel-${i} on 127.0.0.1:${port} to answer PING`, timeoutMs: 10_000 });
    }
    await waitForSentinelQuorum(sentinels.map((s) => s.port), master.port);
  } catch (error) {
    await stopAll(stoppable());
    throw error;
  }
  const sentinelPorts = sentinels.map((s) => s.port);
  const currentMasterPort = async (): Promise<number> => {
    const reply = (await redisCommand(sentinelPorts[0]!, ['SENTINEL', 'get-master-addr-by-name', SENTINEL_MASTER_NAME])) as string[];
    return Number(reply[1]);
  };
  return {
    mode: 'sentinel',
    replicaEnv: {
      REDIS_MODE: 'sentinel',
      REDIS_SENTINELS: sentinelPorts.map((port) => `127.0.0.1:${port}`).join(','),
      REDIS_SENTINEL_MASTER: SENTINEL_MASTER_NAME,
    },
    url: nodes[0]!.url,
    dataPorts: () => nodes.map((n) => n.port),
    processes: () => [
      ...nodes.flatMap((n, i) => (n.pid === undefined ? [] : [{ name: `redis-${i + 1}`, pid: n.pid }])),
      ...sentinels.flatMap((s, i) => (s.process.pid === undefined ? [] : [{ name: `sentinel-${i + 1}`, pid: s.process.pid }])),
    ],
    stop: () => Promise.reject(new Error('a full Redis outage is a standalone scenario; Sentinel fails over (killMaster)')),
    start: () => Promise.reject(new Error('a full Redis outage is a standalone scenario; Sentinel fails over (killMaster)')),
    killMaster: async () => {
      const port = await currentMasterPort();
      const victim = nodes.find((n) => n.port === port && n.running);
      if (!victim) throw new Error(`the sentinels name 127.0.0.1:${port} as master, which is not a running node of this group`);
      await victim.kill();
      killed.add(victim);
      return `127.0.0.1:${port}`;
    },
    reviveKilled: async () => {
      for (const node of killed) {
        await node.start();
        // Sentinel turns a returning old master into a replica of the new one.
        await waitFor(
          async () => {
            const info = parseInfo(String(await redisCommand(node.port, ['INFO', 'replication'])));
            if (info.role !== 'slave' || info.master_link_status !== 'up') throw new Error(`role ${info.role}, link ${info.master_link_status}`);
            return true;
          },
          { what: `revived 127.0.0.1:${node.port} to be a synced replica`, timeoutMs: SETTLE_TIMEOUT_MS, intervalMs: 200 },
        );
      }
      killed.clear();
      await waitForSentinelQuorum(sentinelPorts, await currentMasterPort());
    },
    switchover: async () => {
      const before = await currentMasterPort();
      await redisCommand(sentinelPorts[0]!, ['SENTINEL', 'FAILOVER', SENTINEL_MASTER_NAME]);
      const after = await waitFor(
        async () => {
          const port = await currentMasterPort();
          return port !== before ? port : undefined;
        },
        { what: 'SENTINEL FAILOVER to name a new master', timeoutMs: SETTLE_TIMEOUT_MS, intervalMs: 100 },
      );
      return `127.0.0.1:${after}`;
    },
    down: () => stopAll(stoppable()),
  };
}

/**
 * A replica that has not finished its first sync cannot be promoted: a
 * failover right after start-up would find nobody to take over. Throws until
 * the node (if it is a replica) has its master link up.
 */
async function expectSyncedIfReplica(port: number): Promise<void> {
  const info = parseInfo(String(await redisCommand(port, ['INFO', 'replication'])));
  if (info.role === 'slave' && info.master_link_status !== 'up') {
    throw new Error(`replica :${port} master_link_status ${info.master_link_status}`);
  }
}

/** One SENTINEL REPLICAS entry: a flat [key, value, …] array (RESP2) or a map (RESP3). */
export function replyFields(entry: unknown): Record<string, string> {
  if (Array.isArray(entry)) {
    const fields: Record<string, string> = {};
    for (let i = 0; i + 1 < entry.length; i += 2) fields[String(entry[i])] = String(entry[i + 1]);
    return fields;
  }
  if (entry instanceof Map) return Object.fromEntries([...entry].map(([k, v]) => [String(k), String(v)]));
  if (typeof entry === 'object' && entry !== null) return Object.fromEntries(Object.entries(entry).map(([k, v]) => [k, String(v)]));
  return {};
}

/** Every sentinel knows the master, both replicas (up) and the two other sentinels. */
async function waitForSentinelQuorum(sentinelPorts: readonly number[], masterPort: number): Promise<void> {
  await waitFor(
    async () => {
      for (const port of sentinelPorts) {
        const master = (await redisCommand(port, ['SENTINEL', 'get-master-addr-by-name', SENTINEL_MASTER_NAME])) as string[];
        if (Number(master[1]) !== masterPort) throw new Error(`sentinel :${port} names master :${master[1]}`);
        const replicas = (await redisCommand(port, ['SENTINEL', 'replicas', SENTINEL_MASTER_NAME])) as unknown[];
        const healthy = replicas.filter((entry) => {
          const flags = replyFields(entry).flags ?? '';
          return !flags.includes('s_down') && !flags.includes('disconnected');
        });
        if (healthy.length < 2) throw new Error(`sentinel :${port} sees ${healthy.length} healthy replicas`);
        for (const entry of replicas) {
          const replicaPort = Number(replyFields(entry).port);
          if (replicaPort) await expectSyncedIfReplica(replicaPort);
        }
        const peers = (await redisCommand(port, ['SENTINEL', 'sentinels', SENTINEL_MASTER_NAME])) as unknown[];
        if (peers.length < sentinelPorts.length - 1) throw new Error(`sentinel :${port} knows ${peers.length} other sentinels`);
      }
      return true;
    },
    { what: 'every sentinel to know the master, 2 healthy replicas and the other sentinels', timeoutMs: SETTLE_TIMEOUT_MS, intervalMs: 250 },
  );
}

/** A port whose cluster bus port (port + 10000) is free too. */
async function clusterPort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await freeTcpPort();
    if (port <= 55_000 && (await isTcpPortFreeOn(port + 10_000, ['127.0.0.1']))) return port;
  }
  throw new Error('no free port with a free cluster bus port (+10000) after 50 tries');
}

async function cluster(logDir: string): Promise<LocalRedis> {
  if (!findExecutable('redis-cli')) throw new Error('redis-cli not found on PATH (it comes with redis-server: apt-get install redis-tools)');
  // A fresh directory per run: a node that finds an old nodes.conf refuses to join a new cluster.
  await mkdir(logDir, { recursive: true });
  const dataRoot = await mkdtemp(join(logDir, 'redis-cluster-'));
  const nodes: RedisServerHandle[] = [];
  const killed = new Set<RedisServerHandle>();
  try {
    for (let i = 1; i <= 6; i++) {
      const port = await clusterPort();
      const dataDir = join(dataRoot, `node-${i}`);
      nodes.push(
        await startRedisServer({
          port,
          logFile: join(logDir, `redis-node-${i}.log`),
          dataDir,
          extraArgs: [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            join(dataDir, 'nodes.conf'),
            '--cluster-node-timeout',
            String(REDIS_NODE_TIMEOUT_MS),
            // A short node timeout makes the default validity window (10 × timeout) tiny; a
            // replica that lagged for a moment must still be allowed to take over.
            '--cluster-replica-validity-factor',
            '0',
          ],
        }),
      );
    }
    const addresses = nodes.map((n) => `127.0.0.1:${n.port}`);
    try {
      await $({ quiet: true, timeout: '60s' })`redis-cli --cluster create ${addresses} --cluster-replicas 1 --cluster-yes`;
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      throw new Error(`redis-cli --cluster create ${addresses.join(' ')} failed: ${detail}`);
    }
    await waitForClusterOk(nodes);
  } catch (error) {
    await stopAll(nodes);
    throw error;
  }
  const clusterNodes = async (): Promise<ClusterNodeLine[]> => {
    for (const node of nodes) {
      if (!node.running) continue;
      return parseClusterNodes(String(await redisCommand(node.port, ['CLUSTER', 'NODES'])));
    }
    throw new Error('no cluster node is running');
  };
  return {
    mode: 'cluster',
    replicaEnv: { REDIS_MODE: 'cluster', REDIS_CLUSTER_NODES: nodes.map((n) => `127.0.0.1:${n.port}`).join(',') },
    url: nodes[0]!.url,
    dataPorts: () => nodes.map((n) => n.port),
    processes: () => nodes.flatMap((n, i) => (n.pid === undefined ? [] : [{ name: `redis-node-${i + 1}`, pid: n.pid }])),
    stop: () => Promise.reject(new Error('a full Redis outage is a standalone scenario; the cluster fails over (killMaster)')),
    start: () => Promise.reject(new Error('a full Redis outage is a standalone scenario; the cluster fails over (killMaster)')),
    killMaster: async (key = 'socket.io') => {
      const running = nodes.find((n) => n.running);
      if (!running) throw new Error('no cluster node is running');
      const slot = Number(await redisCommand(running.port, ['CLUSTER', 'KEYSLOT', key]));
      const owner = (await clusterNodes()).find((n) => n.master && !n.failed && n.slots.some(([a, b]) => slot >= a && slot <= b));
      const victim = nodes.find((n) => n.port === owner?.port && n.running);
      if (!victim) throw new Error(`no running master serves slot ${slot} (key ${key})`);
      await victim.kill();
      killed.add(victim);
      return `127.0.0.1:${victim.port}`;
    },
    reviveKilled: async () => {
      for (const node of killed) await node.start();
      killed.clear();
      await waitForClusterOk(nodes);
    },
    down: () => stopAll(nodes),
  };
}

/** Every node says cluster_state:ok and knows all six; three masters serve slots. */
async function waitForClusterOk(nodes: readonly RedisServerHandle[]): Promise<void> {
  await waitFor(
    async () => {
      for (const node of nodes) {
        const info = parseInfo(String(await redisCommand(node.port, ['CLUSTER', 'INFO'])));
        if (info.cluster_state !== 'ok' || info.cluster_known_nodes !== String(nodes.length)) {
          throw new Error(`:${node.port} cluster_state ${info.cluster_state}, known ${info.cluster_known_nodes}`);
        }
        const lines = parseClusterNodes(String(await redisCommand(node.port, ['CLUSTER', 'NODES'])));
        if (lines.some((l) => l.failed)) throw new Error(`:${node.port} still flags a node failed`);
        const masters = lines.filter((l) => l.master && l.slots.length > 0).length;
        if (masters !== 3) throw new Error(`:${node.port} sees ${masters} masters with slots`);
        await expectSyncedIfReplica(node.port);
      }
      return true;
    },
    { what: 'every cluster node to report cluster_state:ok, 6 known nodes, 3 masters, none failed', timeoutMs: SETTLE_TIMEOUT_MS, intervalMs: 250 },
  );
}
