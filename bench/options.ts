/**
 * Command-line options of `npm run bench`. Pure: argv in, options out; a bad
 * option throws UsageError listing every problem.
 */

export const WORKLOADS = ['fanout', 'rooms', 'storm', 'idle', 'c50k', 'tuning'] as const;
export type Workload = (typeof WORKLOADS)[number];

/**
 * Targets compared side by side. `floor`: raw ws server; `single`: one
 * replica, in-memory adapter (no proxy, no Redis); `direct`: one replica +
 * Redis, clients straight at it; `haproxy` / `nginx`: N replicas + Redis
 * behind the proxy; `sharded` / `streams`: HAProxy + the other adapters;
 * `sweep`: HAProxy + Redis with 1..N-1 replicas (for the charts against N).
 */
export const TARGETS = ['floor', 'single', 'direct', 'haproxy', 'peer', 'nginx', 'sharded', 'streams', 'sweep', 'relay', 'rates', 'nodes'] as const;
export type TargetName = (typeof TARGETS)[number];

export interface BenchOptions {
  /** Measured seconds per load run. */
  durationS: number;
  /** Warm-up seconds before each measured run (sent, not measured). */
  warmupS: number;
  clients: number;
  replicas: number;
  /** Broadcasts per second (fan-out). */
  rate: number;
  /** Probe payload size, bytes of JSON. */
  size: number;
  /** Room messages per second (rooms workload). */
  roomRate: number;
  /** Rooms per replica; each client joins one room on its own replica. */
  roomsPerReplica: number;
  /** Concurrent connection attempts in the storm. */
  stormConcurrency: number;
  /** Idle connections to try to hold across the replicas. */
  idle: number;
  /**
   * c50k workload: connections to hold through several HAProxy processes
   * (the same haproxy.cfg) on the compiled replicas.
   */
  c50k: number;
  /** c50k: HAProxy processes; 0 = as few as the open-files limit allows. */
  c50kProxies: number;
  /**
   * c50k: each HAProxy process connects to the replicas from its own
   * loopback address (a `source` line in its copy of haproxy.cfg) instead of
   * 127.0.0.1 for all.
   */
  c50kOwnSources: boolean;
  /** Generator processes. */
  workers: number;
  only: readonly Workload[];
  targets: readonly TargetName[];
  /** Results directory; default bench/results/<timestamp>. */
  out: string | undefined;
  /** Re-render the report from a results.json instead of running. */
  report: string | undefined;
  quick: boolean;
}

export class UsageError extends Error {
  readonly code = 'USAGE';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'UsageError';
  }
}

export const BENCH_USAGE = `usage: npm run bench -- [options]        (make bench ARGS="…")

  --duration S          measured seconds per load run (default 6; --quick 2)
  --warmup S            warm-up seconds before each run (default 2; --quick 1)
  --clients K           clients for fan-out and rooms (default 1000; --quick 100)
  --replicas N          replicas of the cluster targets (default 3)
  --rate B              broadcasts per second, fan-out (default 50)
  --size S              payload bytes (default 128)
  --room-rate M         room messages per second (default 500; --quick 100)
  --rooms-per-replica R rooms per replica (default 33; --quick 5)
  --storm-concurrency C concurrent handshakes in the connection storm (default 32; --quick 8)
  --idle N              idle connections to hold across the replicas (default 12000; --quick 600)
  --c50k N              connections to hold through several HAProxy processes on the compiled
                        replicas, workload c50k (default 50000; --quick 600)
  --c50k-proxies P      HAProxy processes for c50k (default 0: as few as the open-files limit allows)
  --c50k-own-sources    c50k: each HAProxy process connects to the replicas from its own address
                        (127.0.3.N) instead of all from 127.0.0.1
  --workers W           generator processes (default 2; c50k adds its own as its connections need)
  --only LIST           workloads: ${WORKLOADS.join(',')} (default all)
  --targets LIST        targets: ${TARGETS.join(',')} (default all)
  --out DIR             results directory (default bench/results/<timestamp>)
  --report FILE         re-render report.md and the charts from a results.json, run nothing
  --quick               a small, fast run (the smoke test uses it)`;

const DEFAULTS = {
  durationS: 6,
  warmupS: 2,
  clients: 1000,
  replicas: 3,
  rate: 50,
  size: 128,
  roomRate: 500,
  roomsPerReplica: 33,
  stormConcurrency: 32,
  idle: 12_000,
  c50k: 50_000,
  c50kProxies: 0,
  workers: 2,
};

const QUICK = {
  durationS: 2,
  warmupS: 1,
  clients: 100,
  roomRate: 100,
  roomsPerReplica: 5,
  stormConcurrency: 8,
  idle: 600,
  c50k: 600,
};

const NUMERIC: Record<string, { key: keyof typeof DEFAULTS; min: number; max: number; integer: boolean }> = {
  '--duration': { key: 'durationS', min: 0.5, max: 3600, integer: false },
  '--warmup': { key: 'warmupS', min: 0, max: 600, integer: false },
  '--clients': { key: 'clients', min: 1, max: 60_000, integer: true },
  '--replicas': { key: 'replicas', min: 1, max: 16, integer: true },
  '--rate': { key: 'rate', min: 0.1, max: 100_000, integer: false },
  '--size': { key: 'size', min: 32, max: 16_000, integer: true },
  '--room-rate': { key: 'roomRate', min: 0.1, max: 100_000, integer: false },
  '--rooms-per-replica': { key: 'roomsPerReplica', min: 1, max: 10_000, integer: true },
  '--storm-concurrency': { key: 'stormConcurrency', min: 1, max: 1000, integer: true },
  '--idle': { key: 'idle', min: 1, max: 60_000, integer: true },
  // clientSourceAddress gives each client its own loopback source address, up to 62,500.
  '--c50k': { key: 'c50k', min: 1, max: 62_500, integer: true },
  '--c50k-proxies': { key: 'c50kProxies', min: 0, max: 32, integer: true },
  '--workers': { key: 'workers', min: 1, max: 32, integer: true },
};

function parseList<T extends string>(name: string, value: string, allowed: readonly T[], problems: string[]): T[] {
  const items = value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
  const unknown = items.filter((item) => !(allowed as readonly string[]).includes(item));
  if (unknown.length > 0) problems.push(`${name}: unknown ${unknown.join(', ')} (known: ${allowed.join(', ')})`);
  if (items.length === 0) problems.push(`${name}: empty list`);
  return items.filter((item): item is T => (allowed as readonly string[]).includes(item));
}

export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  const problems: string[] = [];
  const given: Partial<Record<keyof typeof DEFAULTS, number>> = {};
  let only: Workload[] = [...WORKLOADS];
  let targets: TargetName[] = [...TARGETS];
  let out: string | undefined;
  let report: string | undefined;
  let quick = false;
  let c50kOwnSources = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') {
      quick = true;
      continue;
    }
    if (arg === '--c50k-own-sources') {
      c50kOwnSources = true;
      continue;
    }
    if (arg === '--help' || arg === '-h') throw new UsageError([]);
    const [name, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = inline ?? argv[i + 1];
    const takes = name in NUMERIC || ['--only', '--targets', '--out', '--report'].includes(name);
    if (!takes) {
      problems.push(`unknown option ${arg}`);
      continue;
    }
    if (value === undefined || (inline === undefined && value.startsWith('--'))) {
      problems.push(`${name} needs a value`);
      continue;
    }
    if (inline === undefined) i += 1;
    const numeric = NUMERIC[name];
    if (numeric) {
      const number = Number(value);
      if (!Number.isFinite(number) || (numeric.integer && !Number.isInteger(number))) {
        problems.push(`${name}: expected ${numeric.integer ? 'a whole number' : 'a number'}, got "${value}"`);
      } else if (number < numeric.min || number > numeric.max) {
        problems.push(`${name}: must be between ${numeric.min} and ${numeric.max}, got ${number}`);
      } else {
        given[numeric.key] = number;
      }
      continue;
    }
    if (name === '--only') only = parseList(name, value, WORKLOADS, problems);
    else if (name === '--targets') targets = parseList(name, value, TARGETS, problems);
    else if (name === '--out') out = value;
    else report = value;
  }
  if (problems.length > 0) throw new UsageError(problems);
  const base = { ...DEFAULTS, ...(quick ? QUICK : {}), ...given };
  return { ...base, c50kOwnSources, only, targets, out, report, quick };
}
