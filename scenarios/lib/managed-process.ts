import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';

export interface SpawnOptions {
  /** Short name used in errors and log prefixes, e.g. "replica-2". */
  name: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Append stdout+stderr to this file; otherwise output is kept in memory (last 64 KiB). */
  logFile?: string;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const TAIL_BYTES = 64 * 1024;

/** Every live child of this runner, so one handler can stop them all on Ctrl-C or a crash. */
const live = new Set<ManagedProcess>();

/**
 * A child process with a known lifecycle: spawned in its own process group,
 * tracked in a registry, stopped with SIGTERM then SIGKILL after a bound.
 */
export class ManagedProcess {
  readonly exited: Promise<ExitInfo>;
  private readonly child: ChildProcess;
  private exitInfo: ExitInfo | undefined;
  private tail = '';
  private log: WriteStream | undefined;

  constructor(
    readonly command: string,
    readonly args: readonly string[],
    readonly options: SpawnOptions,
  ) {
    this.child = spawn(command, args, {
      // WSK_RUN_ID rides along into every child, whatever env the caller
      // built, so tests can find any process a run left behind.
      env: {
        ...(options.env ?? process.env),
        ...(process.env.WSK_RUN_ID ? { WSK_RUN_ID: process.env.WSK_RUN_ID } : {}),
      },
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Own process group: a signal to the group reaches grandchildren
      // (tsx spawns node) and Ctrl-C in the terminal does not hit them twice.
      detached: true,
    });
    if (options.logFile) {
      // Drivers that collect their own logs only at the end (compose) have not
      // made the log directory yet; and a log that cannot be written must not
      // crash the runner with an unhandled 'error' (the process's output is
      // still kept in `tail`).
      mkdirSync(dirname(options.logFile), { recursive: true });
      const log = createWriteStream(options.logFile, { flags: 'a' });
      log.on('error', (error) => {
        process.stderr.write(`${options.name}: cannot write ${options.logFile}: ${error.message}\n`);
        if (this.log === log) this.log = undefined;
      });
      this.log = log;
    }
    const onData = (chunk: Buffer) => {
      this.log?.write(chunk);
      this.tail = (this.tail + chunk.toString('utf8')).slice(-TAIL_BYTES);
    };
    this.child.stdout?.on('data', onData);
    this.child.stderr?.on('data', onData);
    live.add(this);
    this.exited = new Promise<ExitInfo>((resolve) => {
      this.child.once('error', (error) => {
        this.tail += `\nspawn error: ${error.message}`;
        this.exitInfo = { code: null, signal: null };
        live.delete(this);
        resolve(this.exitInfo);
      });
      this.child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        live.delete(this);
        this.log?.end();
        resolve(this.exitInfo);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitInfo === undefined && this.child.pid !== undefined;
  }

  get exit(): ExitInfo | undefined {
    return this.exitInfo;
  }

  /** The last 64 KiB of output, for error messages. */
  output(): string {
    return this.tail;
  }

  /** Signal the whole process group. */
  signal(signal: NodeJS.Signals): void {
    if (!this.running || this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, signal);
    } catch {
      // Already gone between the check and the kill.
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
  async stop(graceMs = 5000): Promise<ExitInfo> {
    if (!this.running) return this.exitInfo ?? { code: null, signal: null };
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Describe how it ended, for errors: "exited with code 1" / "killed by SIGKILL". */
  describeExit(): string {
    const info = this.exitInfo;
    if (!info) return 'still running';
    if (info.signal) return `killed by ${info.signal}`;
    return `exited with code ${info.code}`;
  }
}

export function spawnManaged(command: string, args: readonly string[], options: SpawnOptions): ManagedProcess {
  return new ManagedProcess(command, args, options);
}

/** Stop every child still running (used by Ctrl-C handlers and test teardown). */
export async function stopAllManaged(graceMs = 3000): Promise<void> {
  await Promise.all([...live].map((child) => child.stop(graceMs)));
}

/** Synchronous last resort for process 'exit': SIGKILL every live group. */
export function killAllManagedSync(): void {
  for (const child of live) child.signal('SIGKILL');
}

export function liveManagedCount(): number {
  return live.size;
}
