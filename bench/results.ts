/**
 * What a bench run writes to results.json: raw numbers only (counts, CPU
 * milliseconds and memory per process, encoded HDR histograms). Everything
 * derived — rates, CPU per delivery, the ratios against the targets — is
 * computed from these by the pure functions below, so anyone can recompute
 * the report from the file (`npm run bench -- --report results.json`).
 */
import type { LatencyStats } from './histogram.ts';
import type { ClientKind } from './generator-protocol.ts';
import type { ParserCost } from './parser-cost.ts';
import type { ProcessUsage } from './proc-stats.ts';
import type { TargetSpec } from './targets.ts';

export interface ClientsInfo {
  requested: number;
  connected: number;
  failed: number;
  errors: string[];
  /** Clients per replica id. */
  perReplica: Record<string, number>;
}

export interface LoadRun {
  workload: 'fanout' | 'rooms';
  /** Table name of the target, e.g. "haproxy+redis ×3". */
  target: string;
  spec: TargetSpec;
  /** Tuning variant, e.g. "bufferutil off"; "" for the default build. */
  variant: string;
  clients: ClientsInfo;
  /** Messages per second offered, payload bytes, measured window. */
  rate: number;
  size: number;
  windowMs: number;
  sentMeasured: number;
  expected: number;
  delivered: number;
  /** Rooms workload: rooms joined, and mean members per room. */
  rooms?: number;
  membersPerRoom?: number;
  latency: LatencyStats;
  /** Encoded HDR histogram of delivery latency, µs. */
  histogram: string;
  /** Server-side processes (replicas, proxy, Redis, bench server): CPU in the window, memory at its end. */
  processes: ProcessUsage[];
  /** Generator workers and the runner itself. */
  generator: ProcessUsage[];
  /** Event-loop utilization of each generator worker while sending. */
  generatorElu: number[];
  maxSendLagMs: number;
  /** The whole machine in the window (/proc/stat): process time of everyone, and irq/softirq time. */
  machine: { processMs: number; irqMs: number };
}

export interface StormRun {
  workload: 'storm';
  target: string;
  spec: TargetSpec;
  durationMs: number;
  concurrency: number;
  attempts: number;
  ok: number;
  failed: number;
  notUpgraded: number;
  errors: string[];
  perReplica: Record<string, number>;
  welcome: LatencyStats;
  upgrade: LatencyStats;
  processes: ProcessUsage[];
  generator: ProcessUsage[];
  generatorElu: number;
  machine: { processMs: number; irqMs: number };
}

export interface IdleProcess {
  role: string;
  name: string;
  connections: number;
  rssBeforeKiB: number;
  rssAfterKiB: number;
}

export interface IdleRun {
  workload: 'idle';
  target: string;
  spec: TargetSpec;
  variant: string;
  /** Which client held the connections (see ClientKind). */
  client: ClientKind;
  requested: number;
  /** Connections opened through the proxy, and straight at the replicas. */
  viaProxy: number;
  direct: number;
  connected: number;
  failed: number;
  /** Still open after the hold. */
  held: number;
  holdMs: number;
  connectMs: number;
  errors: string[];
  /** Why it stopped where it did (limits, errors). */
  limits: string[];
  processes: IdleProcess[];
  generatorRssKiB: number;
  /** The single server only: heap used and RSS after a full GC, before and after the connections, bytes. */
  collected?: { heapBefore: number; heapAfter: number; rssBefore: number; rssAfter: number };
}

/** A process of the c50k stage: memory and descriptors before and after the connections. */
export interface C50kProcess {
  role: string;
  name: string;
  /** Connections it held (HAProxy: tunnelled through it; replica: welcomed by it; generator: clients it opened). */
  connections: number;
  rssBeforeKiB: number;
  rssAfterKiB: number;
  fdsBefore: number;
  fdsAfter: number;
  /** Its soft open-files limit. */
  fdLimit: number;
}

/** N connections held through several HAProxy processes (same haproxy.cfg) on the compiled replicas. */
export interface C50kRun {
  workload: 'c50k';
  target: string;
  spec: TargetSpec;
  /** How the replicas ran: the compiled entry, with plain node. */
  server: string;
  requested: number;
  proxies: number;
  /** maxconn written into each HAProxy's copy of haproxy.cfg. */
  maxconn: number;
  /** True when each HAProxy process connected to the replicas from its own address (--c50k-own-sources). */
  ownSources?: boolean;
  generatorWorkers: number;
  connected: number;
  failed: number;
  /** Still open after the hold (the generator's count). */
  held: number;
  holdMs: number;
  /** From the first handshake to the last connection open, ms. */
  connectMs: number;
  /** Per HAProxy process: connections opened through it and how long they took. */
  perProxy: Array<{ name: string; requested: number; connected: number; connectMs: number }>;
  perReplica: Record<string, number>;
  /**
   * A WSKSRV cookie minted by the first HAProxy, presented to every other one
   * with that session's sid: how many of them knew the session (the others
   * answered 400 "Session ID unknown").
   */
  affinity?: { sessions: number; tried: number; sameReplica: number; errors: string[] };
  errors: string[];
  limits: string[];
  processes: C50kProcess[];
}

export type Run = LoadRun | StormRun | IdleRun | C50kRun;

export interface Conditions {
  startedAt: string;
  command: string;
  node: string;
  cpus: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  haproxy: string;
  nginx: string;
  redis: string;
  socketIo: string;
  ws: string;
  nofile: string;
  /** Cores busy before the bench started anything (2 s of /proc/stat): other work on the machine. */
  backgroundCores: number;
  loadAverage: number[];
  options: Record<string, unknown>;
}

export interface BenchResults {
  version: 1;
  conditions: Conditions;
  runs: Run[];
  /** Socket.IO parser cost per message, measured in the runner (tuning). */
  parserCost?: ParserCost;
  /** Stages that could not run, with the reason. */
  failures: Array<{ stage: string; error: string }>;
  durationMs: number;
}

// ---- derived numbers (pure) -------------------------------------------------

const sum = (values: readonly number[]) => values.reduce((total, value) => total + value, 0);

export interface LoadDerived {
  deliveriesPerSec: number;
  deliveredRatio: number;
  /** All server-side processes, CPU ms in the window. */
  serverCpuMs: number;
  replicaCpuMs: number;
  proxyCpuMs: number;
  redisCpuMs: number;
  generatorCpuMs: number;
  /** Server-side CPU µs per delivery. */
  cpuUsPerDelivery: number;
  replicaCpuUsPerDelivery: number;
  /** Deliveries per CPU-second of the replicas (or of the floor / single server). */
  deliveriesPerReplicaCpuS: number;
  /** Server-side cores busy on average. */
  serverCores: number;
  /** Cores busy in irq/softirq (kernel network delivery on loopback, charged to no process). */
  softirqCores: number;
  /** Cores busy with processes that are neither the stack nor the bench (other work on the machine). */
  otherCores: number;
}

/** The floor server and the single server count as "replica" CPU: they do the replica's job. */
const isReplicaLike = (p: ProcessUsage) => p.role === 'replica' || p.role === 'server';

export function deriveLoad(run: LoadRun): LoadDerived {
  const cpu = (filter: (p: ProcessUsage) => boolean) => sum(run.processes.filter(filter).map((p) => p.cpuMs));
  const serverCpuMs = cpu(() => true);
  const replicaCpuMs = cpu(isReplicaLike);
  const delivered = Math.max(run.delivered, 0);
  const perDelivery = (ms: number) => (delivered > 0 ? (ms * 1000) / delivered : 0);
  return {
    deliveriesPerSec: run.windowMs > 0 ? (delivered * 1000) / run.windowMs : 0,
    deliveredRatio: run.expected > 0 ? delivered / run.expected : 0,
    serverCpuMs,
    replicaCpuMs,
    proxyCpuMs: cpu((p) => p.role === 'proxy'),
    redisCpuMs: cpu((p) => p.role === 'redis'),
    generatorCpuMs: sum(run.generator.filter((p) => p.role === 'generator').map((p) => p.cpuMs)),
    cpuUsPerDelivery: perDelivery(serverCpuMs),
    replicaCpuUsPerDelivery: perDelivery(replicaCpuMs),
    deliveriesPerReplicaCpuS: replicaCpuMs > 0 ? (delivered * 1000) / replicaCpuMs : 0,
    serverCores: run.windowMs > 0 ? serverCpuMs / run.windowMs : 0,
    softirqCores: run.windowMs > 0 && run.machine ? run.machine.irqMs / run.windowMs : 0,
    otherCores:
      run.windowMs > 0 && run.machine
        ? Math.max(0, run.machine.processMs - serverCpuMs - sum(run.generator.map((p) => p.cpuMs))) / run.windowMs
        : 0,
  };
}

export function kibPerConnection(process: IdleProcess): number {
  return process.connections > 0 ? (process.rssAfterKiB - process.rssBeforeKiB) / process.connections : 0;
}

export interface C50kDerived {
  /** held / requested. */
  heldRatio: number;
  /** RSS growth of all replicas / connections they hold, KiB. */
  replicaKiBPerConnection: number;
  /** RSS growth of all HAProxy processes / connections through them, KiB. */
  proxyKiBPerConnection: number;
  generatorKiBPerConnection: number;
  /** Connections opened per second over connectMs. */
  connectsPerSec: number;
  /** The most descriptors any process of each role held after the connections, and the lowest limit among them. */
  maxFds: Record<string, { fds: number; limit: number }>;
}

/** RSS growth of `processes` / the connections they hold, KiB (0 when they hold none). Pure. */
export function pooledKiBPerConnection(processes: ReadonlyArray<{ connections: number; rssBeforeKiB: number; rssAfterKiB: number }>): number {
  const connections = sum(processes.map((p) => p.connections));
  return connections > 0 ? sum(processes.map((p) => p.rssAfterKiB - p.rssBeforeKiB)) / connections : 0;
}

export function deriveC50k(run: C50kRun): C50kDerived {
  const byRole = (role: string) => run.processes.filter((p) => p.role === role);
  const maxFds: C50kDerived['maxFds'] = {};
  for (const p of run.processes) {
    const current = maxFds[p.role];
    maxFds[p.role] = {
      fds: Math.max(current?.fds ?? 0, p.fdsAfter),
      limit: Math.min(current?.limit ?? Number.POSITIVE_INFINITY, p.fdLimit),
    };
  }
  return {
    heldRatio: run.requested > 0 ? run.held / run.requested : 0,
    replicaKiBPerConnection: pooledKiBPerConnection(byRole('replica')),
    proxyKiBPerConnection: pooledKiBPerConnection(byRole('proxy')),
    generatorKiBPerConnection: pooledKiBPerConnection(byRole('generator')),
    connectsPerSec: run.connectMs > 0 ? (run.connected * 1000) / run.connectMs : 0,
    maxFds,
  };
}

export interface Ratio {
  name: string;
  /** What was measured, as a number (NaN when the inputs are missing). */
  value: number;
  unit: string;
  target: string;
  /** True when the value meets the target; undefined when there is nothing to compare. Never asserted. */
  met: boolean | undefined;
  /** How it was computed, with the inputs. */
  basis: string;
}

function findLoad(runs: readonly Run[], workload: 'fanout' | 'rooms', test: (run: LoadRun) => boolean): LoadRun | undefined {
  return runs.find((run): run is LoadRun => run.workload === workload && test(run));
}

const isSingle = (run: LoadRun) => run.spec.kind === 'single' && run.variant === '';
const isFloor = (run: LoadRun) => run.spec.kind === 'floor';
const isPeer = (run: LoadRun) => run.spec.kind === 'peer' && run.variant === '';
const isDirectRedis = (run: LoadRun) => run.spec.kind === 'local' && run.spec.direct === true && run.variant === '';
export const isCluster = (run: Run, replicas: number) =>
  run.spec.kind === 'local' &&
  !run.spec.direct &&
  !run.spec.relay &&
  run.spec.proxy === 'haproxy' &&
  run.spec.adapter === 'redis' &&
  run.spec.replicas === replicas &&
  (!('variant' in run) || run.variant === '');

const round = (value: number, digits = 3) => Math.round(value * 10 ** digits) / 10 ** digits;

/**
 * The ratios the issue names, from raw runs. The cluster is HAProxy + Redis
 * pub/sub with `replicas` replicas; the single node is the in-memory
 * baseline (the replica + Redis direct is given as a second baseline).
 */
export function computeRatios(runs: readonly Run[], replicas: number): Ratio[] {
  const ratios: Ratio[] = [];
  const cluster = findLoad(runs, 'fanout', (run) => isCluster(run, replicas));
  const floor = findLoad(runs, 'fanout', isFloor);
  const baselines: Array<[string, LoadRun | undefined]> = [
    ['single (no Redis)', findLoad(runs, 'fanout', isSingle)],
    ['replica + Redis direct', findLoad(runs, 'fanout', isDirectRedis)],
  ];
  const missing = (name: string, unit: string, target: string, why: string): Ratio => ({
    name,
    value: Number.NaN,
    unit,
    target,
    met: undefined,
    basis: why,
  });
  for (const [baseName, base] of baselines) {
    const label = `vs ${baseName}`;
    if (!cluster || !base) {
      ratios.push(missing(`cross-replica p50 − single-node p50 (${label})`, 'ms', '≤ +1 ms', 'cluster or baseline run missing'));
      ratios.push(missing(`cross-replica p99 / single-node p99 (${label})`, '×', '≤ 2×', 'cluster or baseline run missing'));
      ratios.push(missing(`CPU-µs per delivery, cluster / single node (${label})`, '×', '≤ 1.3×', 'cluster or baseline run missing'));
      continue;
    }
    const p50 = cluster.latency.p50 - base.latency.p50;
    ratios.push({
      name: `cross-replica p50 − single-node p50 (${label})`,
      value: round(p50),
      unit: 'ms',
      target: '≤ +1 ms',
      met: p50 <= 1,
      basis: `${cluster.latency.p50} ms − ${base.latency.p50} ms at ${cluster.clients.connected} clients, ${cluster.rate} broadcasts/s`,
    });
    const p99 = base.latency.p99 > 0 ? cluster.latency.p99 / base.latency.p99 : Number.NaN;
    ratios.push({
      name: `cross-replica p99 / single-node p99 (${label})`,
      value: round(p99, 2),
      unit: '×',
      target: '≤ 2×',
      met: Number.isFinite(p99) ? p99 <= 2 : undefined,
      basis: `${cluster.latency.p99} ms / ${base.latency.p99} ms`,
    });
    const c = deriveLoad(cluster);
    const b = deriveLoad(base);
    const cpu = b.cpuUsPerDelivery > 0 ? c.cpuUsPerDelivery / b.cpuUsPerDelivery : Number.NaN;
    ratios.push({
      name: `CPU-µs per delivery, cluster / single node (${label})`,
      value: round(cpu, 2),
      unit: '×',
      target: '≤ 1.3×',
      met: Number.isFinite(cpu) ? cpu <= 1.3 : undefined,
      basis: `${round(c.cpuUsPerDelivery, 2)} µs (replicas+proxy+Redis) / ${round(b.cpuUsPerDelivery, 2)} µs`,
    });
    // Not a target of the issue: where the difference comes from.
    const replicasOnly = b.replicaCpuUsPerDelivery > 0 ? c.replicaCpuUsPerDelivery / b.replicaCpuUsPerDelivery : Number.NaN;
    ratios.push({
      name: `… of which replicas only, cluster / single node (${label})`,
      value: round(replicasOnly, 2),
      unit: '×',
      target: 'reported',
      met: undefined,
      basis: `${round(c.replicaCpuUsPerDelivery, 2)} µs / ${round(b.replicaCpuUsPerDelivery, 2)} µs; the proxy adds ${round(
        (c.proxyCpuMs * 1000) / Math.max(1, cluster.delivered),
        2,
      )} µs, Redis ${round((c.redisCpuMs * 1000) / Math.max(1, cluster.delivered), 2)} µs`,
    });
  }
  // The peer users pick instead (Node cluster + sticky + cluster adapter): the
  // proxy hop and Redis measured against it, not only against one node.
  const peer = findLoad(runs, 'fanout', isPeer);
  const peerLabel = peer ? peer.target : 'node cluster peer';
  if (!cluster || !peer) {
    ratios.push(missing(`cluster p50 − ${peerLabel} p50`, 'ms', 'reported', 'cluster or peer run missing'));
    ratios.push(missing(`CPU-µs per delivery, cluster / ${peerLabel}`, '×', 'reported', 'cluster or peer run missing'));
  } else {
    const c = deriveLoad(cluster);
    const p = deriveLoad(peer);
    ratios.push({
      name: `cluster p50 − ${peerLabel} p50`,
      value: round(cluster.latency.p50 - peer.latency.p50),
      unit: 'ms',
      target: 'reported',
      met: undefined,
      basis: `${cluster.latency.p50} ms − ${peer.latency.p50} ms (p99 ${cluster.latency.p99} ms against ${peer.latency.p99} ms)`,
    });
    ratios.push({
      name: `CPU-µs per delivery, cluster / ${peerLabel}`,
      value: p.cpuUsPerDelivery > 0 ? round(c.cpuUsPerDelivery / p.cpuUsPerDelivery, 2) : Number.NaN,
      unit: '×',
      target: 'reported',
      met: undefined,
      basis:
        `${round(c.cpuUsPerDelivery, 2)} µs / ${round(p.cpuUsPerDelivery, 2)} µs; replicas ${round(c.replicaCpuUsPerDelivery, 2)} µs` +
        ` against workers ${round(p.replicaCpuUsPerDelivery, 2)} µs; HAProxy + Redis ${round(
          ((c.proxyCpuMs + c.redisCpuMs) * 1000) / Math.max(1, cluster.delivered),
          2,
        )} µs against the primary ${round((p.proxyCpuMs * 1000) / Math.max(1, peer.delivered), 2)} µs`,
    });
  }
  const efficiency = (run: LoadRun | undefined, name: string, targetPct: number) => {
    const target = `≥ ${targetPct}%`;
    if (!run || !floor) {
      ratios.push(missing(name, '%', target, 'run or floor missing'));
      return;
    }
    const r = deriveLoad(run).deliveriesPerReplicaCpuS;
    const f = deriveLoad(floor).deliveriesPerReplicaCpuS;
    const value = f > 0 ? (100 * r) / f : Number.NaN;
    ratios.push({
      name,
      value: round(value, 1),
      unit: '%',
      target,
      met: Number.isFinite(value) ? value >= targetPct : undefined,
      basis: `${Math.round(r)} deliveries per replica CPU-second / ${Math.round(f)} for the raw ws floor`,
    });
  };
  efficiency(cluster, `deliveries/s per replica CPU-second, cluster ×${replicas} vs raw ws floor`, 70);
  efficiency(baselines[0]![1], 'deliveries/s per CPU-second, single (no Redis) vs raw ws floor', 75);
  efficiency(peer, `deliveries/s per worker CPU-second, ${peerLabel} vs raw ws floor`, 70);

  const idle = runs.find((run): run is IdleRun => run.workload === 'idle' && run.variant === '' && run.spec.kind === 'local');
  if (!idle) {
    ratios.push(missing('concurrent connections held across the replicas', 'connections', '≥ 10,000', 'idle run missing'));
  } else {
    const replicaCount = idle.processes.filter((p) => p.role === 'replica').length;
    ratios.push({
      name: `concurrent connections held across ${replicaCount} replicas`,
      value: idle.held,
      unit: 'connections',
      target: '≥ 10,000',
      met: idle.held >= 10_000,
      basis: `${idle.viaProxy} through HAProxy + ${idle.direct} direct; held ${idle.held} of ${idle.requested} for ${idle.holdMs} ms`,
    });
    const replicasIdle = idle.processes.filter((p) => p.role === 'replica');
    const replicaKiB =
      sum(replicasIdle.map((p) => p.rssAfterKiB - p.rssBeforeKiB)) / Math.max(1, sum(replicasIdle.map((p) => p.connections)));
    ratios.push({
      name: 'KiB per idle connection at a replica',
      value: round(replicaKiB, 1),
      unit: 'KiB',
      target: 'reported',
      met: undefined,
      basis: 'RSS growth of the replicas / connections they hold',
    });
    const proxy = idle.processes.find((p) => p.role === 'proxy');
    ratios.push(
      proxy && proxy.connections > 0
        ? {
            name: 'KiB per idle connection at HAProxy',
            value: round(kibPerConnection(proxy), 1),
            unit: 'KiB',
            target: 'reported',
            met: undefined,
            basis: `RSS growth of HAProxy / ${proxy.connections} tunnelled connections`,
          }
        : missing('KiB per idle connection at HAProxy', 'KiB', 'reported', 'no connection went through HAProxy'),
    );
  }
  const c50k = runs.find((run): run is C50kRun => run.workload === 'c50k');
  if (!c50k) {
    ratios.push(missing('connections held through HAProxy (c50k)', 'connections', '≥ 50,000', 'c50k run missing'));
  } else {
    const d = deriveC50k(c50k);
    const replicaCount = c50k.processes.filter((p) => p.role === 'replica').length;
    ratios.push({
      name: `connections held through ${c50k.proxies} HAProxy processes across ${replicaCount} compiled replicas`,
      value: c50k.held,
      unit: 'connections',
      target: '≥ 50,000',
      met: c50k.held >= 50_000,
      basis: `held ${c50k.held} of ${c50k.requested} for ${c50k.holdMs} ms, all through HAProxy; opened in ${c50k.connectMs} ms`,
    });
    ratios.push({
      name: 'KiB per connection at a compiled replica (c50k)',
      value: round(d.replicaKiBPerConnection, 1),
      unit: 'KiB',
      target: 'reported',
      met: undefined,
      basis: 'RSS growth of the replicas / connections they hold',
    });
    ratios.push({
      name: 'KiB per connection at HAProxy (c50k)',
      value: round(d.proxyKiBPerConnection, 1),
      unit: 'KiB',
      target: 'reported',
      met: undefined,
      basis: `RSS growth of the ${c50k.proxies} HAProxy processes / connections tunnelled through them`,
    });
  }
  return ratios;
}

export interface RelayRow {
  run: LoadRun;
  /** Frames the relay carried in the window: every delivery (server → client) and every broadcast sent (client → server). */
  frames: number;
  proxyUsPerFrame: number;
  /** proxyUsPerFrame minus the cheapest relay's of the same run (the floor); 0 for the floor itself. */
  overFloorUs: number;
}

/** The relay-floor runs (one replica behind each relay), each relay's CPU per relayed frame against the cheapest one. Pure. */
export function relayRows(runs: readonly Run[]): RelayRow[] {
  const relays = runs.filter((run): run is LoadRun => run.workload === 'fanout' && run.spec.kind === 'local' && run.spec.relay !== undefined);
  const rows = relays.map((run) => {
    const frames = Math.max(0, run.delivered) + Math.max(0, run.sentMeasured);
    const proxyUsPerFrame = frames > 0 ? (deriveLoad(run).proxyCpuMs * 1000) / frames : Number.NaN;
    return { run, frames, proxyUsPerFrame, overFloorUs: 0 };
  });
  const floor = Math.min(...rows.map((row) => row.proxyUsPerFrame).filter(Number.isFinite));
  for (const row of rows) row.overFloorUs = Number.isFinite(floor) ? row.proxyUsPerFrame - floor : Number.NaN;
  return rows;
}

export interface LoadPoint {
  run: LoadRun;
  deliveriesPerSec: number;
  /** Share of the machine's cores that no process and no interrupt used during the window, in %. */
  idlePct: number;
}

/** Percent of the machine idle during a load run (NaN without /proc/stat numbers). */
export function machineIdlePct(run: LoadRun, cores: number): number {
  if (!run.machine || run.windowMs <= 0 || cores <= 0) return Number.NaN;
  const busy = (run.machine.processMs + run.machine.irqMs) / (run.windowMs * cores);
  return Math.max(0, 100 * (1 - busy));
}

/** Fan-out runs of the rate sweep plus the main run of each swept target, by target, lowest rate first. Pure. */
export function rateSweep(runs: readonly Run[], cores: number): Map<string, LoadPoint[]> {
  const fanout = runs.filter((run): run is LoadRun => run.workload === 'fanout');
  const swept = new Set(fanout.filter((run) => run.variant.startsWith('rate ')).map((run) => run.target));
  const out = new Map<string, LoadPoint[]>();
  for (const target of swept) {
    const points = fanout
      .filter((run) => run.target === target && (run.variant === '' || run.variant.startsWith('rate ')))
      .map((run) => ({ run, deliveriesPerSec: deriveLoad(run).deliveriesPerSec, idlePct: machineIdlePct(run, cores) }))
      .sort((a, b) => a.run.rate - b.run.rate);
    out.set(target, points);
  }
  return out;
}

/**
 * The latency ratios at the highest broadcast rate where both runs left the
 * machine at least `minIdlePct` idle (undefined when no rate did). Pure.
 */
export function latencyAtIdle(
  sweep: Map<string, LoadPoint[]>,
  cluster: string,
  base: string,
  minIdlePct = 40,
): { rate: number; p50DiffMs: number; p99Ratio: number; cluster: LoadPoint; base: LoadPoint } | undefined {
  const c = sweep.get(cluster) ?? [];
  const b = sweep.get(base) ?? [];
  const pairs = c
    .map((point) => [point, b.find((other) => other.run.rate === point.run.rate)] as const)
    .filter((pair): pair is readonly [LoadPoint, LoadPoint] => pair[1] !== undefined && pair[0].idlePct >= minIdlePct && pair[1].idlePct >= minIdlePct)
    .sort((x, y) => y[0].run.rate - x[0].run.rate);
  const best = pairs[0];
  if (!best) return undefined;
  const [cp, bp] = best;
  return {
    rate: cp.run.rate,
    p50DiffMs: round(cp.run.latency.p50 - bp.run.latency.p50),
    p99Ratio: bp.run.latency.p99 > 0 ? round(cp.run.latency.p99 / bp.run.latency.p99, 2) : Number.NaN,
    cluster: cp,
    base: bp,
  };
}
