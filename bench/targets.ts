/**
 * What the bench runs load against: a "target" is a set of server-side
 * processes with a lifecycle, the URL each client connects to, and the list
 * of processes whose CPU and memory count for it. Targets:
 *
 * - `floor`: bench/servers/floor-server.ts, a bare `ws` fan-out server;
 * - `single`: one replica (server/app.ts, the product's handlers) with the
 *   in-memory adapter: no proxy, no Redis (bench/servers/single-server.ts);
 * - `peer`: bench/servers/cluster-peer-server.ts, Socket.IO's own
 *   one-machine scale-out (Node `cluster`, @socket.io/sticky hand-off,
 *   @socket.io/cluster-adapter) with the replica's app in each worker;
 * - `local`: the local topology (LocalTopology: real redis-server, HAProxy or
 *   Nginx, N replicas), clients through the proxy or straight at the replicas.
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../scenarios/lib/repo-root.ts';
import { freeTcpPort } from '../scenarios/lib/free-port.ts';
import { type ManagedProcess, spawnManaged } from '../scenarios/lib/managed-process.ts';
import { waitFor } from '../scenarios/lib/wait-for.ts';
import { LocalTopology } from '../scenarios/local/local-topology.ts';
import type { ProxyVariant } from '../scenarios/topology.ts';
import type { AdapterKind, ProxyKind } from '../scenarios/topology.ts';
import type { ConnectionMode } from './bench-connection.ts';
import { nodeBinary } from './node-binaries.ts';
import { haproxyTransform, RELAY_LABELS, type RelayKind } from './haproxy-variants.ts';
import type { WatchedProcess } from './proc-stats.ts';

const execFileAsync = promisify(execFile);

export type TargetSpec =
  | { kind: 'floor' }
  | {
      kind: 'single';
      env?: Record<string, string>;
      /** Another Node version for the server (NODE_VERSIONS; fetched from npm); the runner's own otherwise. */
      node?: string;
    }
  | { kind: 'peer'; workers: number }
  | {
      kind: 'local';
      proxy: ProxyKind;
      adapter: AdapterKind;
      replicas: number;
      /** Clients connect straight to the replicas (round-robin), not through the proxy. */
      direct?: boolean;
      /**
       * Relay floor: clients go through this relay instead of the topology's
       * proxy (an HAProxy variant of haproxy.cfg, or the bench's Node TCP
       * relay to the first replica); only that relay counts as the proxy.
       */
      relay?: RelayKind;
      env?: Record<string, string>;
      /** Replicas run as the compiled server (tsc -p tsconfig.build.json, plain node), as the image runs them. */
      compiled?: boolean;
    };

export interface Target {
  spec: TargetSpec;
  mode: ConnectionMode;
  /** Where client `i` connects. */
  urlFor(index: number): string;
  /** Where client `i` connects bypassing any proxy (round-robin over the replicas). */
  directUrlFor(index: number): string;
  /** The bench's single server answers its heap after a full GC here (exact bytes per connection). */
  memoryUrl?: string;
  /** The proxy URL, when there is one on the path. */
  proxyUrl: string | undefined;
  /** Server-side processes that count for this target (replicas, proxy, Redis, bench server). */
  processes(): WatchedProcess[];
  /** For idle capacity: a second HAProxy on the same replicas, from haproxy.cfg with `transform` applied. */
  haproxyVariant?(name: string, transform: (config: string) => string): Promise<ProxyVariant>;
  down(): Promise<void>;
}

/**
 * Compile server/ as the Dockerfile does (`tsc -p tsconfig.build.json`, plus
 * server/public beside it) into a directory of its own under bench/results/
 * (inside the repository, so the build's imports find node_modules; git
 * ignores it), removed by `remove()`.
 */
export async function buildServer(): Promise<{ entry: string; remove: () => Promise<void> }> {
  const parent = join(REPO_ROOT, 'bench/results');
  await mkdir(parent, { recursive: true });
  const dir = await mkdtemp(join(parent, '.server-build-'));
  const remove = () => rm(dir, { recursive: true, force: true });
  try {
    await execFileAsync(join(REPO_ROOT, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.build.json', '--outDir', dir], {
      cwd: REPO_ROOT,
      timeout: 120_000,
    });
    await cp(join(REPO_ROOT, 'server/public'), join(dir, 'server/public'), { recursive: true });
  } catch (error) {
    await remove();
    const output = error as { stdout?: string; stderr?: string; message?: string };
    throw new Error(`tsc -p tsconfig.build.json failed: ${`${output.stdout ?? ''}${output.stderr ?? ''}`.trim() || output.message}`);
  }
  return { entry: join(dir, 'server/main.js'), remove };
}

const SERVERS = fileURLToPath(new URL('./servers/', import.meta.url));
/** The bench's own servers listen on a replica-style loopback address. */
const BENCH_SERVER_HOST = '127.0.1.1';

async function startBenchServer(
  file: string,
  name: string,
  env: Record<string, string>,
  logFile: string,
  execPath = process.execPath,
): Promise<{ child: ManagedProcess; url: string }> {
  const port = await freeTcpPort(BENCH_SERVER_HOST);
  // BENCH_CPU_PROF=DIR: each bench server writes a V8 CPU profile there on exit (for finding where a delivery's CPU goes).
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const child = spawnManaged(execPath, [...profile, '--expose-gc', '--import', 'tsx', join(SERVERS, file)], {
    name,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      LOG_LEVEL: 'warn',
      ...env,
      HOST: BENCH_SERVER_HOST,
      PORT: String(port),
    },
    logFile,
  });
  const url = `http://${BENCH_SERVER_HOST}:${port}`;
  try {
    await waitFor(
      async () => {
        if (!child.running) throw new Error(`${name} ${child.describeExit()}: ${child.output().slice(-500)}`);
        const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
        await response.body?.cancel();
        return response.ok;
      },
      { what: `${name} at ${url} to answer /healthz`, timeoutMs: 20_000, intervalMs: 100 },
    );
  } catch (error) {
    await child.stop(1000);
    throw error;
  }
  return { child, url };
}

/** A short name for tables: "floor", "single", "haproxy+redis ×3", "direct ×1 +redis". */
export function targetLabel(spec: TargetSpec): string {
  if (spec.kind === 'floor') return 'raw ws floor';
  if (spec.kind === 'single') return 'single (no Redis)';
  if (spec.kind === 'peer') return `node cluster ×${spec.workers} (sticky)`;
  if (spec.direct) return `direct ×${spec.replicas} +${spec.adapter}`;
  if (spec.relay) return `relay: ${RELAY_LABELS[spec.relay]} ×${spec.replicas}`;
  return `${spec.proxy}+${spec.adapter} ×${spec.replicas}${spec.compiled ? ' (compiled)' : ''}`;
}

export async function startTarget(spec: TargetSpec, logDir: string): Promise<Target> {
  await mkdir(logDir, { recursive: true });
  if (spec.kind === 'floor' || spec.kind === 'single') {
    const file = spec.kind === 'floor' ? 'floor-server.ts' : 'single-server.ts';
    const name = spec.kind === 'floor' ? 'ws-floor' : 'single';
    const { child, url } = await startBenchServer(
      file,
      name,
      spec.kind === 'single' ? (spec.env ?? {}) : {},
      join(logDir, `${name}.log`),
      spec.kind === 'single' && spec.node ? await nodeBinary(spec.node) : process.execPath,
    );
    return {
      spec,
      mode: spec.kind === 'floor' ? 'raw' : 'socket.io',
      urlFor: () => url,
      directUrlFor: () => url,
      ...(spec.kind === 'single' ? { memoryUrl: `${url}/bench/memory` } : {}),
      proxyUrl: undefined,
      processes: () =>
        child.pid === undefined ? [] : [{ role: spec.kind === 'floor' ? 'server' : 'replica', name, pid: child.pid }],
      down: async () => {
        await child.stop(3000);
      },
    };
  }
  if (spec.kind === 'peer') return startPeer(spec, logDir);
  const build = spec.compiled ? await buildServer() : undefined;
  let topology: LocalTopology;
  try {
    topology = await LocalTopology.up({
      kind: 'local',
      proxy: spec.proxy,
      adapter: spec.adapter,
      replicas: spec.replicas,
      logDir,
      // No drain on the way down: the bench does not measure shutdowns, and
      // each stage would otherwise wait DRAIN_DELAY_MS per replica.
      replicaEnv: { LOG_LEVEL: 'warn', DRAIN_DELAY_MS: '0', ...spec.env },
      ...(build ? { replicaEntry: build.entry } : {}),
    });
  } catch (error) {
    await build?.remove();
    throw error;
  }
  if (build) {
    const down = topology.down.bind(topology);
    topology.down = async () => {
      await down();
      await build.remove();
    };
  }
  const endpoints = topology.endpoints();
  const replicaUrls = endpoints.replicas.map((replica) => replica.url);
  if (spec.relay) return startRelay(spec, spec.relay, topology, replicaUrls, logDir);
  return {
    spec,
    mode: 'socket.io',
    urlFor: (index) => (spec.direct ? replicaUrls[index % replicaUrls.length]! : endpoints.proxyUrl),
    directUrlFor: (index) => replicaUrls[index % replicaUrls.length]!,
    proxyUrl: spec.direct ? undefined : endpoints.proxyUrl,
    // Direct: the proxy is up but not on the path, so it does not count.
    processes: () => topology.processes().filter((process) => !(spec.direct && process.role === 'proxy')),
    haproxyVariant: (name, transform) => topology.startHaproxyVariant(name, transform),
    down: () => topology.down(),
  };
}

/** How long the peer's workers get to start (each loads the app through tsx). */
const PEER_WORKERS_TIMEOUT_MS = 30_000;

async function startPeer(spec: Extract<TargetSpec, { kind: 'peer' }>, logDir: string): Promise<Target> {
  const { child, url } = await startBenchServer(
    'cluster-peer-server.ts',
    'peer',
    { WORKERS: String(spec.workers) },
    join(logDir, 'peer.log'),
  );
  const workerPids = (): Array<[string, number]> =>
    [...child.output().matchAll(/^peer worker (\S+) pid (\d+)$/gm)].map((m) => [m[1]!, Number(m[2])] as [string, number]);
  try {
    await waitFor(
      () => {
        if (!child.running) throw new Error(`peer ${child.describeExit()}: ${child.output().slice(-500)}`);
        return workerPids().length >= spec.workers;
      },
      { what: `${spec.workers} peer workers to serve`, timeoutMs: PEER_WORKERS_TIMEOUT_MS, intervalMs: 100 },
    );
  } catch (error) {
    await child.stop(3000);
    throw error;
  }
  const workers = workerPids();
  return {
    spec,
    mode: 'socket.io',
    urlFor: () => url,
    directUrlFor: () => url,
    proxyUrl: undefined,
    // The primary hands connections over and relays the adapter's IPC
    // messages: it plays the proxy's part, and is counted alone (its
    // descendants are the workers, counted as replicas).
    processes: () => [
      ...(child.pid === undefined ? [] : [{ role: 'proxy' as const, name: 'node cluster primary', pid: child.pid, alone: true }]),
      ...workers.map(([name, pid]) => ({ role: 'replica' as const, name, pid })),
    ],
    down: async () => {
      await child.stop(5000);
    },
  };
}

async function startRelay(
  spec: TargetSpec,
  relay: RelayKind,
  topology: LocalTopology,
  replicaUrls: readonly string[],
  logDir: string,
): Promise<Target> {
  let url: string;
  let proxy: WatchedProcess | undefined;
  let stopRelay: () => Promise<void>;
  try {
    if (relay === 'node-tcp') {
      const upstream = new URL(replicaUrls[0]!);
      const started = await startBenchServer('tcp-relay.ts', 'tcp-relay', { UPSTREAM: upstream.host }, join(logDir, 'tcp-relay.log'));
      url = started.url;
      if (started.child.pid !== undefined) proxy = { role: 'proxy', name: RELAY_LABELS[relay], pid: started.child.pid };
      stopRelay = async () => {
        await started.child.stop(3000);
      };
    } else {
      const variant = await topology.startHaproxyVariant(relay, haproxyTransform(relay));
      url = variant.url;
      if (variant.pid !== undefined) proxy = { role: 'proxy', name: RELAY_LABELS[relay], pid: variant.pid };
      stopRelay = () => variant.stop();
    }
  } catch (error) {
    await topology.down();
    throw error;
  }
  return {
    spec,
    mode: 'socket.io',
    urlFor: () => url,
    directUrlFor: (index) => replicaUrls[index % replicaUrls.length]!,
    proxyUrl: url,
    // The topology's own HAProxy is up but off the path: only the relay counts as the proxy.
    processes: () => [...topology.processes().filter((process) => process.role !== 'proxy'), ...(proxy ? [proxy] : [])],
    down: async () => {
      await stopRelay().catch(() => undefined);
      await topology.down();
    },
  };
}
