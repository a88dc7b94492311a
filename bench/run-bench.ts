/**
 * The bench: one generator, a list of stages run one after the other, each
 * bringing a target up, running its workloads, and tearing it down (also on
 * failure). A stage that fails is recorded and the run goes on, so one
 * broken target does not cost the whole comparison.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { clientSourceAddress } from '../scenarios/lib/client-address.ts';
import { WaitTimeoutError, waitFor } from '../scenarios/lib/wait-for.ts';
import { nowUs } from './bench-connection.ts';
import { c50kHaproxyConfig, c50kSourceAddress, haproxyConnectionCap, planC50k } from './c50k.ts';
import { Generator } from './generator.ts';
import type { ClientKind, ClientSpec, ConnectResult } from './generator-protocol.ts';
import { encodeHistogram, latencyStats } from './histogram.ts';
import type { BenchOptions } from './options.ts';
import { RELAY_KINDS } from './haproxy-variants.ts';
import { NODE_VERSIONS } from './node-binaries.ts';
import { measureParserCost } from './parser-cost.ts';
import {
  machineBetween,
  machineTicks,
  nofileSoft,
  openFdCount,
  type ProcessSample,
  sampleProcesses,
  usageBetween,
  type WatchedProcess,
} from './proc-stats.ts';
import type {
  BenchResults,
  C50kProcess,
  C50kRun,
  ClientsInfo,
  Conditions,
  IdleProcess,
  IdleRun,
  LoadRun,
  Run,
  StormRun,
} from './results.ts';
import { startTarget, type Target, type TargetSpec, targetLabel } from './targets.ts';

export type StageWorkload = 'fanout' | 'rooms' | 'storm' | 'idle' | 'c50k';

export interface Stage {
  name: string;
  spec: TargetSpec;
  /** Tuning variant label; "" for the default build. */
  variant: string;
  workloads: StageWorkload[];
  /** Idle workload: which client holds the connections (default: the light WebSocket-only client). */
  idleClient?: ClientKind;
  /** Fan-out broadcasts per second for this stage (the rate sweep); options.rate otherwise. */
  rate?: number;
}

/** The rate sweep: fan-out at these fractions of --rate (the main runs give 1×), for the latency-against-load chart. */
export const RATE_FRACTIONS: readonly number[] = [0.1, 0.25, 0.5];

/** Tuning measures, each a replica environment that turns one off (or on). */
export const TUNING_FANOUT: ReadonlyArray<{ variant: string; env: Record<string, string> }> = [
  // The default build once more: how much the same run moves on this machine (noise control).
  { variant: 'default, repeated', env: {} },
  // ws uses bufferutil for (un)masking when it can load it; this makes it not.
  { variant: 'bufferutil off', env: { WS_NO_BUFFER_UTIL: '1' } },
  // Not a Socket.IO setting: what the replica's per-delivery Prometheus counters cost.
  { variant: 'delivery metrics off', env: { BENCH_METRICS: 'false' } },
  { variant: 'perMessageDeflate on', env: { PER_MESSAGE_DEFLATE: 'true' } },
];
export const TUNING_IDLE: ReadonlyArray<{ variant: string; env: Record<string, string> }> = [
  { variant: 'handshake request kept', env: { DISCARD_HANDSHAKE_REQUEST: 'false' } },
  { variant: 'perMessageDeflate on', env: { PER_MESSAGE_DEFLATE: 'true' } },
];

const PEER: TargetSpec = { kind: 'peer', workers: 2 };

/** The stages for `options`, in run order. Pure. */
export function planStages(options: Pick<BenchOptions, 'only' | 'targets' | 'replicas' | 'rate'>): Stage[] {
  const has = (workload: string) => (options.only as readonly string[]).includes(workload);
  const target = (name: string) => (options.targets as readonly string[]).includes(name);
  const n = options.replicas;
  const stages: Stage[] = [];
  const load = (extra: StageWorkload[] = []): StageWorkload[] => [
    ...(has('fanout') ? (['fanout'] as const) : []),
    ...(has('rooms') ? (['rooms'] as const) : []),
    ...extra,
  ];
  const add = (name: string, spec: TargetSpec, workloads: StageWorkload[], variant = '', idleClient?: ClientKind) => {
    if (workloads.length > 0) stages.push({ name, spec, variant, workloads, ...(idleClient ? { idleClient } : {}) });
  };
  const cluster = (proxy: 'haproxy' | 'nginx', adapter: 'redis' | 'redis-sharded' | 'redis-streams', replicas = n) =>
    ({ kind: 'local', proxy, adapter, replicas }) as const;

  if (target('floor')) add('floor', { kind: 'floor' }, has('fanout') ? ['fanout'] : []);
  if (target('single')) add('single', { kind: 'single' }, load());
  if (target('direct')) add('direct', { ...cluster('haproxy', 'redis', 1), direct: true }, has('fanout') ? ['fanout'] : []);
  if (target('haproxy')) add('haproxy', cluster('haproxy', 'redis'), load(has('storm') ? ['storm'] : []));
  // Socket.IO's own one-machine scale-out, 2 workers (the machine's cores), beside the cluster.
  if (target('peer')) add('peer', PEER, load(has('storm') ? ['storm'] : []));
  if (target('nginx')) add('nginx', cluster('nginx', 'redis'), load(has('storm') ? ['storm'] : []));
  if (target('sharded')) add('sharded', cluster('haproxy', 'redis-sharded'), load());
  if (target('streams')) add('streams', cluster('haproxy', 'redis-streams'), load());
  if (target('sweep') && has('fanout')) {
    for (let replicas = 1; replicas < n; replicas++) add(`sweep-${replicas}`, cluster('haproxy', 'redis', replicas), ['fanout']);
  }
  // The proxy against its floor: one replica behind each relay, the same fan-out.
  if (target('relay') && has('fanout')) {
    for (const relay of RELAY_KINDS) add(`relay: ${relay}`, { ...cluster('haproxy', 'redis', 1), relay }, ['fanout']);
  }
  if (target('rates') && has('fanout')) {
    // The variant keeps these out of the ratios and the main tables; they have their own.
    const swept: Array<[string, TargetSpec]> = [
      ['single', { kind: 'single' }],
      ['haproxy', cluster('haproxy', 'redis')],
      ['peer', PEER],
    ];
    for (const [name, spec] of swept) {
      for (const fraction of RATE_FRACTIONS) {
        const rate = Math.round(options.rate * fraction * 100) / 100;
        stages.push({ name: `rate ${rate}/s: ${name}`, spec, variant: `rate ${rate}/s`, workloads: ['fanout'], rate });
      }
    }
  }
  if (has('idle')) add('idle', cluster('haproxy', 'redis'), ['idle']);
  if (has('idle') && target('peer')) add('peer idle', PEER, ['idle']);
  // Through several HAProxy processes on the compiled replicas (see c50k.ts); its own stage, its own generator.
  if (has('c50k')) add('c50k', { ...cluster('haproxy', 'redis'), compiled: true }, ['c50k']);
  if (has('tuning')) {
    for (const { variant, env } of TUNING_FANOUT) add(`tuning: ${variant}`, { kind: 'single', env }, ['fanout'], variant);
    // What an upgrade buys: the same replica on the next Node majors (--targets nodes).
    if (target('nodes')) {
      for (const node of NODE_VERSIONS) add(`tuning: Node ${node}`, { kind: 'single', node }, ['fanout'], `Node ${node}`);
    }
    // Default transports, as browsers connect: the handshake is a long-polling
    // request, which is what DISCARD_HANDSHAKE_REQUEST is about.
    add('tuning: idle memory', { kind: 'single' }, ['idle'], '', 'socket.io-client');
    for (const { variant, env } of TUNING_IDLE) {
      add(`tuning: idle ${variant}`, { kind: 'single', env }, ['idle'], variant, 'socket.io-client');
    }
  }
  return stages;
}

export interface RunBenchDeps {
  log: (message: string) => void;
  outDir: string;
  conditions: Conditions;
  /** Checked between steps: set when the user pressed Ctrl-C. */
  aborted?: () => boolean;
  /** Called with the target while it is up, so a Ctrl-C handler can take it down. */
  onTarget?: (target: Target | undefined) => void;
  onGenerator?: (generator: Generator | undefined) => void;
  /** The c50k stage's own generator, while it runs (Ctrl-C stops it too). */
  onStageGenerator?: (generator: Generator | undefined) => void;
}

const CONNECT_TIMEOUT_MS = 15_000;
/** Delivery drain after the last send: messages in flight get this long to arrive. */
const DRAIN_TIMEOUT_MS = 5000;
/** Fan-out / rooms clients: indexes 0.. ; storm sources start here; idle from 0 (its own stage). */
const STORM_FIRST_SOURCE = 30_000;
const STORM_SOURCES = 2000;

function runnerProcess(): WatchedProcess {
  return { role: 'runner', name: 'runner', pid: process.pid, alone: true };
}

function generatorProcesses(generator: Generator): WatchedProcess[] {
  return generator.processes().map((worker) => ({ role: 'generator' as const, name: worker.name, pid: worker.pid }));
}

function clientsInfo(requested: number, result: ConnectResult): ClientsInfo {
  return {
    requested,
    connected: result.connected,
    failed: result.failed,
    errors: result.errors,
    perReplica: result.replicas,
  };
}

async function sleepUntilUs(us: number): Promise<void> {
  const ms = (us - nowUs()) / 1000;
  if (ms > 0) await sleep(ms);
}

/** Send at `rate` for warm-up + duration; measure CPU over the measured window; wait for deliveries to drain. */
async function measureLoad(
  generator: Generator,
  target: Target,
  options: BenchOptions,
  kind: 'broadcast' | 'room',
  rate: number,
  openClients: number,
  rooms?: Array<[string, number]>,
) {
  await generator.reset();
  const startUs = nowUs() + 300_000;
  const measureUs = startUs + options.warmupS * 1e6;
  const endUs = measureUs + options.durationS * 1e6;
  const loading = generator.load({ kind, rate, size: options.size, startUs, measureUs, endUs, ...(rooms ? { rooms } : {}) });
  // Awaited below; until then a failure (a worker gone on Ctrl-C) must not count as unhandled.
  loading.catch(() => undefined);
  const watched = [...target.processes(), ...generatorProcesses(generator), runnerProcess()];
  await sleepUntilUs(measureUs);
  const machineBefore = await machineTicks();
  const before = await sampleProcesses(watched);
  const beforeUs = nowUs();
  await sleepUntilUs(endUs);
  const after = await sampleProcesses(watched);
  const machine = machineBetween(machineBefore, await machineTicks());
  const windowMs = (nowUs() - beforeUs) / 1000;
  const loads = await loading;
  const sentMeasured = loads.reduce((s, r) => s + r.sentMeasured, 0);
  const expected = kind === 'broadcast' ? sentMeasured * openClients : loads.reduce((s, r) => s + r.expectedMeasured, 0);
  let delivered = 0;
  try {
    await waitFor(
      async () => {
        delivered = (await generator.counts()).measured;
        return delivered >= expected;
      },
      { what: `${expected} measured deliveries`, timeoutMs: DRAIN_TIMEOUT_MS, intervalMs: 100 },
    );
  } catch (error) {
    if (!(error instanceof WaitTimeoutError)) throw error;
  }
  const counts = await generator.counts();
  delivered = counts.measured;
  const histogram = await generator.histogram();
  const usage = usageBetween(before, after);
  return {
    windowMs: Math.round(windowMs),
    sentMeasured,
    expected,
    delivered,
    latency: latencyStats(histogram),
    histogram: encodeHistogram(histogram),
    processes: usage.filter((p) => p.role !== 'generator' && p.role !== 'runner'),
    generator: usage.filter((p) => p.role === 'generator' || p.role === 'runner'),
    generatorElu: loads.map((r) => Math.round(r.elu * 1000) / 1000),
    maxSendLagMs: Math.max(0, ...loads.map((r) => r.maxLagMs)),
    machine,
  };
}

async function connectClients(generator: Generator, target: Target, count: number, firstIndex = 0): Promise<ConnectResult> {
  const specs: ClientSpec[] = Array.from({ length: count }, (_, i) => {
    const index = firstIndex + i;
    return { index, url: target.urlFor(index), localAddress: clientSourceAddress(index) };
  });
  return generator.connect(target.mode, specs, { concurrency: 64, timeoutMs: CONNECT_TIMEOUT_MS });
}

/** The soft limit on open files of this process (children inherit it). */
export async function openFilesLimit(): Promise<{ soft: number; hard: number }> {
  const text = await readFile('/proc/self/limits', 'utf8');
  const match = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(text);
  const parse = (value: string | undefined) => (value === undefined || value === 'unlimited' ? 1_048_576 : Number(value));
  return { soft: parse(match?.[1]), hard: parse(match?.[2]) };
}

export { haproxyConnectionCap };

async function idleRun(
  generator: Generator,
  target: Target,
  stage: Stage,
  options: BenchOptions,
  log: (message: string) => void,
): Promise<IdleRun> {
  const tuning = stage.spec.kind === 'single';
  const requested = tuning ? Math.min(options.idle, 2000) : options.idle;
  const mode: ClientKind = stage.idleClient ?? 'socket.io';
  const limits: string[] = [];
  const files = await openFilesLimit();
  if (!tuning) limits.push(`open files per process: soft ${files.soft}, hard ${files.hard} (every process of the stack inherits it)`);
  let viaProxy = 0;
  let proxyWatch: WatchedProcess | undefined;
  let proxyUrl: string | undefined;
  if (!tuning && target.haproxyVariant) {
    const cap = haproxyConnectionCap(files.soft);
    viaProxy = Math.min(requested, cap);
    if (viaProxy < requested) {
      limits.push(
        `HAProxy holds at most ~${cap} connections with ${files.soft} descriptors (2 per tunnelled connection); ` +
          `the other ${requested - viaProxy} connect straight to the replicas`,
      );
    }
    // haproxy.cfg caps maxconn at 8000 (its comment says to raise it with the
    // nofile limit); the bench's own HAProxy takes what the descriptors allow.
    const maxconn = viaProxy + 100;
    const variant = await target.haproxyVariant('idle', (config) => config.replace(/^(\s*maxconn\s+)\d+/m, `$1${maxconn}`));
    proxyUrl = variant.url;
    if (variant.pid !== undefined) proxyWatch = { role: 'proxy', name: 'haproxy (idle)', pid: variant.pid };
  }
  const servers = target.processes().filter((p) => p.role !== 'proxy');
  const watched = [...servers, ...(proxyWatch ? [proxyWatch] : []), ...generatorProcesses(generator)];
  const memoryBefore = target.memoryUrl ? await collectedMemory(target.memoryUrl) : undefined;
  const before = await sampleProcesses(watched);
  const started = performance.now();
  const specs: ClientSpec[] = Array.from({ length: requested }, (_, index) => ({
    index,
    url: index < viaProxy && proxyUrl ? proxyUrl : target.directUrlFor(index),
    localAddress: clientSourceAddress(index),
  }));
  log(`  idle: opening ${requested} connections with ${mode} (${viaProxy} through HAProxy)`);
  const connectOptions = { concurrency: mode === 'socket.io-client' ? 16 : 64, timeoutMs: CONNECT_TIMEOUT_MS };
  const proxied = viaProxy > 0 ? await generator.connect(mode, specs.slice(0, viaProxy), connectOptions) : undefined;
  const direct = await generator.connect(mode, specs.slice(viaProxy), connectOptions);
  const connectMs = Math.round(performance.now() - started);
  const connected = (proxied?.connected ?? 0) + direct.connected;
  const failed = (proxied?.failed ?? 0) + direct.failed;
  const errors = [...new Set([...(proxied?.errors ?? []), ...direct.errors])].slice(0, 5);
  if (failed > 0) limits.push(`${failed} connections failed: ${errors.join('; ')}`);
  const holdMs = options.quick ? 1000 : tuning ? 2000 : 5000;
  log(`  idle: ${connected} open after ${connectMs} ms; holding ${holdMs} ms`);
  await sleep(holdMs);
  const counts = await generator.counts();
  const after = await sampleProcesses(watched);
  const memoryAfter = target.memoryUrl ? await collectedMemory(target.memoryUrl) : undefined;
  const perReplica: Record<string, number> = {};
  for (const record of [proxied?.replicas ?? {}, direct.replicas]) {
    for (const [replica, count] of Object.entries(record)) perReplica[replica] = (perReplica[replica] ?? 0) + count;
  }
  const find = (samples: ProcessSample[], name: string) => samples.find((s) => s.name === name);
  const processes: IdleProcess[] = watched
    .filter((p) => p.role !== 'generator')
    .map((p) => ({
      role: p.role,
      name: p.name,
      connections:
        p.role === 'proxy' ? (proxied?.connected ?? 0) : p.role === 'replica' ? (perReplica[p.name] ?? (tuning ? connected : 0)) : 0,
      rssBeforeKiB: find(before, p.name)?.rssKiB ?? 0,
      rssAfterKiB: find(after, p.name)?.rssKiB ?? 0,
    }));
  const generatorRssKiB = after.filter((s) => s.role === 'generator').reduce((sum, s) => sum + s.rssKiB, 0);
  await generator.closeClients();
  return {
    workload: 'idle',
    target: targetLabel(stage.spec),
    spec: stage.spec,
    variant: stage.variant,
    client: mode,
    requested,
    viaProxy: proxied?.connected ?? 0,
    direct: direct.connected,
    connected,
    failed,
    held: counts.open,
    holdMs,
    connectMs,
    errors,
    limits,
    processes,
    generatorRssKiB,
    ...(memoryBefore && memoryAfter
      ? {
          collected: {
            heapBefore: memoryBefore.heapUsed,
            heapAfter: memoryAfter.heapUsed,
            rssBefore: memoryBefore.rss,
            rssAfter: memoryAfter.rss,
          },
        }
      : {}),
  };
}

/** Size of net.ipv4.ip_local_port_range (ports one source address has towards one destination). */
async function ephemeralPorts(): Promise<number> {
  try {
    const [low, high] = (await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')).trim().split(/\s+/).map(Number);
    return Number.isFinite(low) && Number.isFinite(high) ? high! - low! + 1 : 28_232;
  } catch {
    return 28_232;
  }
}

async function sampleFds(watched: readonly WatchedProcess[]): Promise<Map<string, { fds: number; limit: number }>> {
  const out = new Map<string, { fds: number; limit: number }>();
  for (const p of watched) out.set(p.name, { fds: await openFdCount(p.pid), limit: await nofileSoft(p.pid) });
  return out;
}

/**
 * A WSKSRV cookie and sid from a polling handshake at the first proxy,
 * presented with a no-op packet to every other proxy: 200 when that proxy
 * sent it to the replica holding the session, 400 "Session ID unknown" when
 * not. Bounded: `sessions` handshakes, a 5 s timeout per request.
 */
async function crossProxyAffinity(urls: readonly string[], sessions = 3): Promise<NonNullable<C50kRun['affinity']>> {
  const result = { sessions: 0, tried: 0, sameReplica: 0, errors: [] as string[] };
  const remember = (message: string) => {
    if (result.errors.length < 5 && !result.errors.includes(message)) result.errors.push(message);
  };
  for (let s = 0; s < sessions; s++) {
    try {
      const handshake = await fetch(`${urls[0]}/socket.io/?EIO=4&transport=polling`, { signal: AbortSignal.timeout(5000) });
      const body = await handshake.text();
      const cookie = /WSKSRV=[^;]+/.exec(handshake.headers.get('set-cookie') ?? '')?.[0];
      const sid = /"sid":"([^"]+)"/.exec(body)?.[1];
      if (!handshake.ok || !cookie || !sid) {
        remember(`handshake at ${urls[0]}: ${handshake.status}, cookie ${cookie ? 'set' : 'missing'}, sid ${sid ? 'set' : 'missing'}`);
        continue;
      }
      result.sessions += 1;
      for (const url of urls.slice(1)) {
        result.tried += 1;
        const response = await fetch(`${url}/socket.io/?EIO=4&transport=polling&sid=${encodeURIComponent(sid)}`, {
          method: 'POST',
          body: '6',
          headers: { cookie, 'content-type': 'text/plain;charset=UTF-8' },
          signal: AbortSignal.timeout(5000),
        });
        const text = await response.text();
        if (response.ok) result.sameReplica += 1;
        else remember(`${url}: ${response.status} ${text.slice(0, 80)}`);
      }
    } catch (error) {
      remember(error instanceof Error ? error.message : String(error));
    }
  }
  return result;
}

/**
 * c50k: options.c50k connections, all through `plan.proxies` HAProxy
 * processes running haproxy.cfg (maxconn raised to their share), to the
 * compiled replicas, from a generator of the stage's own with enough
 * workers; every HAProxy and worker is stopped, also on failure.
 */
async function c50kRun(target: Target, stage: Stage, options: BenchOptions, deps: RunBenchDeps): Promise<C50kRun> {
  const { log } = deps;
  const files = await openFilesLimit();
  const plan = planC50k({
    requested: options.c50k,
    replicas: options.replicas,
    openFiles: files.soft,
    proxies: options.c50kProxies,
    minWorkers: options.workers,
    ephemeralPorts: await ephemeralPorts(),
  });
  if (plan.problems.length > 0) throw new Error(`c50k cannot run: ${plan.problems.join('; ')}`);
  if (!target.haproxyVariant) throw new Error('c50k needs the local HAProxy topology');
  const limits = [
    `open files per process: soft ${files.soft}, hard ${files.hard}; one HAProxy process holds at most ~${plan.proxyCap} (2 descriptors per connection)`,
    `${plan.proxies} HAProxy processes with maxconn ${plan.maxconn}, ${plan.workers} generator workers`,
    options.c50kOwnSources
      ? `HAProxy process i connects to the replicas from 127.0.3.i (a source line added to its haproxy.cfg)`
      : 'every HAProxy process connects to the replicas from 127.0.0.1 (haproxy.cfg has no source line)',
  ];
  const proxies: Array<{ name: string; url: string; pid: number | undefined; stop: () => Promise<void> }> = [];
  let generator: Generator | undefined;
  try {
    for (let i = 0; i < plan.proxies; i++) {
      if (deps.aborted?.()) throw new Error('aborted');
      const name = `haproxy-${i + 1}`;
      const source = options.c50kOwnSources ? c50kSourceAddress(i) : undefined;
      const variant = await target.haproxyVariant(`c50k-${i + 1}`, (config) => c50kHaproxyConfig(config, plan.maxconn, source));
      proxies.push({ name, url: variant.url, pid: variant.pid, stop: () => variant.stop() });
    }
    generator = await Generator.start({ workers: plan.workers, logFile: join(deps.outDir, 'generator-c50k.log') });
    deps.onStageGenerator?.(generator);
    const servers = target.processes().filter((p) => p.role === 'replica');
    const proxyWatch: WatchedProcess[] = proxies.flatMap((p) => (p.pid === undefined ? [] : [{ role: 'proxy' as const, name: p.name, pid: p.pid }]));
    const watched = [...servers, ...proxyWatch, ...generatorProcesses(generator)];
    const before = await sampleProcesses(watched);
    const fdsBefore = await sampleFds(watched);
    const perProxy: C50kRun['perProxy'] = [];
    const perReplica: Record<string, number> = {};
    const perWorker = new Map<string, number>();
    const errors = new Set<string>();
    let connected = 0;
    let failed = 0;
    log(`  c50k: opening ${plan.requested} connections through ${plan.proxies} HAProxy processes (${plan.perProxy.join(', ')})`);
    const started = performance.now();
    let first = 0;
    for (const [i, proxy] of proxies.entries()) {
      if (deps.aborted?.()) break;
      const specs: ClientSpec[] = Array.from({ length: plan.perProxy[i]! }, (_, k) => ({
        index: first + k,
        url: proxy.url,
        localAddress: clientSourceAddress(first + k),
      }));
      first += specs.length;
      const proxyStarted = performance.now();
      const result = await generator.connect('socket.io', specs, { concurrency: 64, timeoutMs: CONNECT_TIMEOUT_MS });
      const proxyMs = Math.round(performance.now() - proxyStarted);
      perProxy.push({ name: proxy.name, requested: specs.length, connected: result.connected, connectMs: proxyMs });
      connected += result.connected;
      failed += result.failed;
      for (const error of result.errors) errors.add(error);
      for (const [replica, count] of Object.entries(result.replicas)) perReplica[replica] = (perReplica[replica] ?? 0) + count;
      log(`  c50k: ${proxy.name} ${result.connected}/${specs.length} in ${proxyMs} ms${result.failed ? `, ${result.failed} failed` : ''}`);
    }
    const connectMs = Math.round(performance.now() - started);
    // Clients go to the workers round-robin, call by call: worker w tried every plan.workers-th client of each share.
    for (const share of plan.perProxy) {
      for (const [w, worker] of generator.processes().entries()) {
        const opened = Math.floor(share / plan.workers) + (w < share % plan.workers ? 1 : 0);
        perWorker.set(worker.name, (perWorker.get(worker.name) ?? 0) + opened);
      }
    }
    if (failed > 0) limits.push(`${failed} connections failed: ${[...errors].slice(0, 5).join('; ')}`);
    const holdMs = options.quick ? 1000 : 5000;
    log(`  c50k: ${connected} open after ${connectMs} ms; holding ${holdMs} ms`);
    await sleep(holdMs);
    const counts = await generator.counts();
    const after = await sampleProcesses(watched);
    const fdsAfter = await sampleFds(watched);
    const affinity = await crossProxyAffinity(proxies.map((p) => p.url));
    const find = (samples: ProcessSample[], name: string) => samples.find((sample) => sample.name === name);
    const processes: C50kProcess[] = watched.map((p) => ({
      role: p.role,
      name: p.name,
      connections:
        p.role === 'proxy'
          ? (perProxy.find((x) => x.name === p.name)?.connected ?? 0)
          : p.role === 'replica'
            ? (perReplica[p.name] ?? 0)
            : (perWorker.get(p.name) ?? 0),
      rssBeforeKiB: find(before, p.name)?.rssKiB ?? 0,
      rssAfterKiB: find(after, p.name)?.rssKiB ?? 0,
      fdsBefore: fdsBefore.get(p.name)?.fds ?? 0,
      fdsAfter: fdsAfter.get(p.name)?.fds ?? 0,
      fdLimit: fdsAfter.get(p.name)?.limit ?? 0,
    }));
    await generator.closeClients();
    return {
      workload: 'c50k',
      target: targetLabel(stage.spec),
      spec: stage.spec,
      server: 'node <build>/server/main.js (tsc -p tsconfig.build.json, no tsx)',
      requested: plan.requested,
      proxies: plan.proxies,
      maxconn: plan.maxconn,
      ownSources: options.c50kOwnSources,
      generatorWorkers: plan.workers,
      connected,
      failed,
      held: counts.open,
      holdMs,
      connectMs,
      perProxy,
      perReplica,
      affinity,
      errors: [...errors].slice(0, 5),
      limits,
      processes,
    };
  } finally {
    deps.onStageGenerator?.(undefined);
    await generator?.stop().catch(() => undefined);
    await Promise.allSettled(proxies.map((p) => p.stop()));
  }
}

async function collectedMemory(url: string): Promise<{ heapUsed: number; rss: number }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (!response.ok) throw new Error(`GET ${url} answered ${response.status}`);
  return (await response.json()) as { heapUsed: number; rss: number };
}

async function stormRun(generator: Generator, target: Target, stage: Stage, options: BenchOptions): Promise<StormRun> {
  const url = target.proxyUrl ?? target.urlFor(0);
  const watched = [...target.processes(), ...generatorProcesses(generator), runnerProcess()];
  const durationMs = Math.round(options.durationS * 1000);
  const machineBefore = await machineTicks();
  const before = await sampleProcesses(watched);
  const result = await generator.storm({
    url,
    concurrency: options.stormConcurrency,
    durationMs,
    firstSource: STORM_FIRST_SOURCE,
    sources: STORM_SOURCES,
    timeoutMs: 10_000,
  });
  const after = await sampleProcesses(watched);
  const machine = machineBetween(machineBefore, await machineTicks());
  const usage = usageBetween(before, after);
  return {
    workload: 'storm',
    machine,
    target: targetLabel(stage.spec),
    spec: stage.spec,
    durationMs,
    concurrency: options.stormConcurrency,
    attempts: result.attempts,
    ok: result.ok,
    failed: result.failed,
    notUpgraded: result.notUpgraded,
    errors: result.errors,
    perReplica: result.replicas,
    welcome: latencyStats(result.welcomeHistogram),
    upgrade: latencyStats(result.upgradeHistogram),
    processes: usage.filter((p) => p.role !== 'generator' && p.role !== 'runner'),
    generator: usage.filter((p) => p.role === 'generator' || p.role === 'runner'),
    generatorElu: Math.round(result.elu * 1000) / 1000,
  };
}

async function runStage(
  stage: Stage,
  generator: Generator,
  options: BenchOptions,
  deps: RunBenchDeps,
  runs: Run[],
): Promise<void> {
  const { log } = deps;
  const logDir = join(deps.outDir, 'logs', stage.name.replace(/[^A-Za-z0-9.-]+/g, '-'));
  const target = await startTarget(stage.spec, logDir);
  deps.onTarget?.(target);
  const label = targetLabel(stage.spec);
  try {
    const wantsClients = stage.workloads.includes('fanout') || stage.workloads.includes('rooms');
    if (wantsClients) {
      const connect = await connectClients(generator, target, options.clients);
      log(
        `  ${connect.connected}/${options.clients} clients in ${connect.elapsedMs} ms` +
          ` (${Object.entries(connect.replicas)
            .map(([r, c]) => `${r}=${c}`)
            .join(' ')})${connect.failed ? `; ${connect.failed} failed: ${connect.errors.join('; ')}` : ''}`,
      );
      if (connect.connected === 0) throw new Error(`no client could connect: ${connect.errors.join('; ')}`);
      const clients = clientsInfo(options.clients, connect);
      if (stage.workloads.includes('fanout') && !deps.aborted?.()) {
        const rate = stage.rate ?? options.rate;
        const measured = await measureLoad(generator, target, options, 'broadcast', rate, connect.connected);
        const run: LoadRun = {
          workload: 'fanout',
          target: label,
          spec: stage.spec,
          variant: stage.variant,
          clients,
          rate,
          size: options.size,
          ...measured,
        };
        runs.push(run);
        log(
          `  fanout: ${run.delivered}/${run.expected} delivered, p50 ${run.latency.p50} ms, p99 ${run.latency.p99} ms` +
            `, server CPU ${Math.round(run.processes.reduce((s, p) => s + p.cpuMs, 0))} ms in ${run.windowMs} ms`,
        );
      }
      if (stage.workloads.includes('rooms') && !deps.aborted?.()) {
        const joined = await generator.join(options.roomsPerReplica);
        const rooms = Object.entries(joined.members).sort(([a], [b]) => a.localeCompare(b));
        if (rooms.length === 0) throw new Error(`no client could join a room (${joined.failed} failed)`);
        const measured = await measureLoad(generator, target, options, 'room', options.roomRate, connect.connected, rooms);
        const run: LoadRun = {
          workload: 'rooms',
          target: label,
          spec: stage.spec,
          variant: stage.variant,
          clients,
          rate: options.roomRate,
          size: options.size,
          rooms: rooms.length,
          membersPerRoom: Math.round((100 * rooms.reduce((s, [, m]) => s + m, 0)) / rooms.length) / 100,
          ...measured,
        };
        runs.push(run);
        log(`  rooms: ${run.delivered}/${run.expected} delivered over ${rooms.length} rooms, p50 ${run.latency.p50} ms, p99 ${run.latency.p99} ms`);
      }
      await generator.closeClients();
    }
    if (stage.workloads.includes('storm') && !deps.aborted?.()) {
      const run = await stormRun(generator, target, stage, options);
      runs.push(run);
      log(
        `  storm: ${run.ok} upgraded connections in ${run.durationMs} ms (${Math.round((run.ok * 1000) / run.durationMs)}/s)` +
          `, ${run.failed} failed, welcome p50 ${run.welcome.p50} ms p99 ${run.welcome.p99} ms`,
      );
    }
    if (stage.workloads.includes('idle') && !deps.aborted?.()) {
      const run = await idleRun(generator, target, stage, options, log);
      runs.push(run);
      log(`  idle: held ${run.held} of ${run.requested} (${run.viaProxy} via HAProxy)`);
    }
    if (stage.workloads.includes('c50k') && !deps.aborted?.()) {
      const run = await c50kRun(target, stage, options, deps);
      runs.push(run);
      log(`  c50k: held ${run.held} of ${run.requested} through ${run.proxies} HAProxy processes`);
    }
  } finally {
    await generator.closeClients().catch(() => undefined);
    deps.onTarget?.(undefined);
    await target.down();
  }
}

export async function runBench(options: BenchOptions, deps: RunBenchDeps): Promise<BenchResults> {
  const started = performance.now();
  const stages = planStages(options);
  const runs: Run[] = [];
  const failures: BenchResults['failures'] = [];
  const parserCost = options.only.includes('tuning') ? measureParserCost(options.size) : undefined;
  const generator = await Generator.start({ workers: options.workers, logFile: join(deps.outDir, 'generator.log') });
  deps.onGenerator?.(generator);
  try {
    for (const [i, stage] of stages.entries()) {
      if (deps.aborted?.()) break;
      deps.log(`[${i + 1}/${stages.length}] ${stage.name}: ${targetLabel(stage.spec)} — ${stage.workloads.join(', ')}`);
      try {
        await runStage(stage, generator, options, deps, runs);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        failures.push({ stage: stage.name, error: message.split('\n').slice(0, 6).join('\n') });
        deps.log(`  FAILED: ${message.split('\n')[0]}`);
      }
    }
  } finally {
    deps.onGenerator?.(undefined);
    await generator.stop();
  }
  return {
    version: 1,
    conditions: deps.conditions,
    runs,
    ...(parserCost ? { parserCost } : {}),
    failures,
    durationMs: Math.round(performance.now() - started),
  };
}
