/**
 * The load generator as the runner sees it: several worker processes
 * (generator-worker.ts), each with its share of the clients and of the load,
 * so the generator is not the bottleneck on a multi-core machine, and its CPU
 * can be read from /proc like any other process's. Workers are spawned in
 * their own process group, leave on their own when the runner's IPC channel
 * closes, and are killed on the runner's exit.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type {
  ClientKind,
  ClientSpec,
  Command,
  CommandBody,
  ConnectResult,
  CountsResult,
  JoinResult,
  LoadResult,
  Reply,
  StormResult,
} from './generator-protocol.ts';
import { decodeHistogram, type Histogram, mergeEncoded, newHistogram } from './histogram.ts';

const WORKER_PATH = fileURLToPath(new URL('./generator-worker.ts', import.meta.url));
/** Every worker of every generator of this process, for the exit handler. */
const liveWorkers = new Set<ChildProcess>();
let exitHookInstalled = false;

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // gone already
  }
}

/** Distributes `items` round-robin into `parts` lists. */
export function splitRoundRobin<T>(items: readonly T[], parts: number): T[][] {
  const out: T[][] = Array.from({ length: parts }, () => []);
  for (const [i, item] of items.entries()) out[i % parts]!.push(item);
  return out;
}

/** Adds up per-key counts. */
export function mergeCounts(records: ReadonlyArray<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const record of records) for (const [key, value] of Object.entries(record)) out[key] = (out[key] ?? 0) + value;
  return out;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

class WorkerHandle {
  private seq = 0;
  private readonly pending = new Map<number, Pending>();
  private stderrTail = '';
  readonly exited: Promise<void>;

  constructor(
    readonly child: ChildProcess,
    readonly name: string,
  ) {
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString()).slice(-4000);
    });
    child.on('message', (reply: Reply) => {
      const waiter = this.pending.get(reply.seq);
      if (!waiter) return;
      this.pending.delete(reply.seq);
      clearTimeout(waiter.timer);
      if (reply.ok) waiter.resolve(reply.result);
      else waiter.reject(new Error(`${name}: ${reply.error}`));
    });
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        liveWorkers.delete(child);
        for (const [, waiter] of this.pending) {
          clearTimeout(waiter.timer);
          waiter.reject(new Error(`${name} exited (${signal ?? `code ${code}`}): ${this.stderrTail.trim().slice(-500)}`));
        }
        this.pending.clear();
        resolve();
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  call<T>(command: CommandBody, timeoutMs: number): Promise<T> {
    const seq = this.seq++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(seq);
        reject(new Error(`${this.name}: no answer to ${command.op} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(seq, { resolve: resolve as (value: unknown) => void, reject, timer });
      if (!this.child.connected) {
        clearTimeout(timer);
        this.pending.delete(seq);
        reject(new Error(`${this.name} is not running: ${this.stderrTail.trim().slice(-500)}`));
        return;
      }
      this.child.send({ ...command, seq } as Command);
    });
  }
}

export interface GeneratorOptions {
  workers: number;
  /** Append the workers' stderr here. */
  logFile?: string;
}

export class Generator {
  private constructor(private readonly workers: WorkerHandle[]) {}

  static async start(options: GeneratorOptions): Promise<Generator> {
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on('exit', () => {
        for (const child of liveWorkers) killGroup(child, 'SIGKILL');
      });
    }
    const log = options.logFile ? createWriteStream(options.logFile, { flags: 'a' }) : undefined;
    const workers: WorkerHandle[] = [];
    for (let i = 0; i < options.workers; i++) {
      const child = spawn(process.execPath, ['--import', 'tsx', WORKER_PATH], {
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
        detached: true,
        env: process.env,
      });
      if (log) child.stderr?.pipe(log, { end: false });
      liveWorkers.add(child);
      workers.push(new WorkerHandle(child, `generator-${i + 1}`));
    }
    const generator = new Generator(workers);
    try {
      // A no-op round trip proves every worker loaded and listens.
      await Promise.all(workers.map((worker) => worker.call({ op: 'reset' }, 20_000)));
    } catch (error) {
      await generator.stop();
      throw error;
    }
    return generator;
  }

  get size(): number {
    return this.workers.length;
  }

  /** Worker pids, for CPU and memory accounting. */
  processes(): Array<{ name: string; pid: number }> {
    return this.workers.map((worker) => ({ name: worker.name, pid: worker.pid }));
  }

  private all<T>(command: CommandBody | ((index: number) => CommandBody), timeoutMs: number): Promise<T[]> {
    return Promise.all(
      this.workers.map((worker, index) => worker.call<T>(typeof command === 'function' ? command(index) : command, timeoutMs)),
    );
  }

  async connect(
    mode: ClientKind,
    clients: readonly ClientSpec[],
    { concurrency, timeoutMs }: { concurrency: number; timeoutMs: number },
  ): Promise<ConnectResult> {
    const shares = splitRoundRobin(clients, this.workers.length);
    const perWorker = Math.max(1, Math.ceil(concurrency / this.workers.length));
    // Bound: every client gets timeoutMs, perWorker at a time.
    const bound = timeoutMs * (Math.ceil(clients.length / this.workers.length / perWorker) + 2) + 10_000;
    const results = await this.all<ConnectResult>(
      (i) => ({ op: 'connect', mode, clients: shares[i]!, concurrency: perWorker, timeoutMs }),
      bound,
    );
    return {
      connected: results.reduce((sum, r) => sum + r.connected, 0),
      failed: results.reduce((sum, r) => sum + r.failed, 0),
      errors: [...new Set(results.flatMap((r) => r.errors))].slice(0, 5),
      replicas: mergeCounts(results.map((r) => r.replicas)),
      elapsedMs: Math.max(...results.map((r) => r.elapsedMs)),
    };
  }

  async join(roomsPerReplica: number, timeoutMs = 10_000): Promise<JoinResult> {
    const results = await this.all<JoinResult>({ op: 'join', roomsPerReplica, timeoutMs }, timeoutMs * 20 + 10_000);
    return { members: mergeCounts(results.map((r) => r.members)), failed: results.reduce((s, r) => s + r.failed, 0) };
  }

  /** Send `rate` messages/s in total, split over the workers; resolves when every worker has stopped sending. */
  async load(spec: Omit<Extract<Command, { op: 'load' }>, 'op' | 'seq'>): Promise<LoadResult[]> {
    const roomShares = spec.rooms ? splitRoundRobin(spec.rooms, this.workers.length) : undefined;
    const durationMs = (spec.endUs - spec.startUs) / 1000;
    return this.all<LoadResult>(
      (i) => ({
        op: 'load',
        ...spec,
        rate: spec.rate / this.workers.length,
        ...(roomShares ? { rooms: roomShares[i]!.length > 0 ? roomShares[i]! : spec.rooms! } : {}),
      }),
      Math.max(0, (spec.endUs - Number(process.hrtime.bigint() / 1000n)) / 1000) + durationMs + 30_000,
    );
  }

  async counts(): Promise<CountsResult> {
    const results = await this.all<CountsResult>({ op: 'counts' }, 10_000);
    return {
      measured: results.reduce((s, r) => s + r.measured, 0),
      warmup: results.reduce((s, r) => s + r.warmup, 0),
      disconnects: results.reduce((s, r) => s + r.disconnects, 0),
      open: results.reduce((s, r) => s + r.open, 0),
    };
  }

  /** The measured-latency histograms of every worker, added up. */
  async histogram(): Promise<Histogram> {
    const results = await this.all<{ encoded: string }>({ op: 'histogram' }, 20_000);
    return mergeEncoded(results.map((r) => r.encoded));
  }

  async reset(): Promise<void> {
    await this.all({ op: 'reset' }, 10_000);
  }

  async storm(spec: {
    url: string;
    concurrency: number;
    durationMs: number;
    firstSource: number;
    sources: number;
    timeoutMs: number;
  }): Promise<StormResult & { welcomeHistogram: Histogram; upgradeHistogram: Histogram }> {
    const perWorker = Math.max(1, Math.ceil(spec.concurrency / this.workers.length));
    const sourcesPer = Math.max(1, Math.floor(spec.sources / this.workers.length));
    const results = await this.all<StormResult>(
      (i) => ({
        op: 'storm',
        ...spec,
        concurrency: perWorker,
        firstSource: spec.firstSource + i * sourcesPer,
        sources: sourcesPer,
      }),
      spec.durationMs + spec.timeoutMs * 2 + 30_000,
    );
    const welcomeHistogram = newHistogram();
    const upgradeHistogram = newHistogram();
    for (const r of results) {
      welcomeHistogram.add(decodeHistogram(r.welcome));
      upgradeHistogram.add(decodeHistogram(r.upgrade));
    }
    return {
      attempts: results.reduce((s, r) => s + r.attempts, 0),
      ok: results.reduce((s, r) => s + r.ok, 0),
      failed: results.reduce((s, r) => s + r.failed, 0),
      notUpgraded: results.reduce((s, r) => s + r.notUpgraded, 0),
      errors: [...new Set(results.flatMap((r) => r.errors))].slice(0, 5),
      welcome: '',
      upgrade: '',
      elu: Math.max(...results.map((r) => r.elu)),
      replicas: mergeCounts(results.map((r) => r.replicas)),
      welcomeHistogram,
      upgradeHistogram,
    };
  }

  async closeClients(): Promise<void> {
    await this.all({ op: 'close' }, 20_000);
  }

  /** Stop every worker: close IPC (they exit on their own), then SIGTERM / SIGKILL the group. Idempotent. */
  async stop(): Promise<void> {
    await Promise.all(
      this.workers.map(async (worker) => {
        const child = worker.child;
        if (child.connected) child.disconnect();
        const term = setTimeout(() => killGroup(child, 'SIGTERM'), 2000);
        const kill = setTimeout(() => killGroup(child, 'SIGKILL'), 4000);
        if (child.exitCode === null && child.signalCode === null) await worker.exited;
        clearTimeout(term);
        clearTimeout(kill);
      }),
    );
  }
}
