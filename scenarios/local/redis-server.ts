import { accessSync, constants } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freeTcpPort } from '../lib/free-port.ts';
import { type ManagedProcess, spawnManaged } from '../lib/managed-process.ts';
import { waitFor } from '../lib/wait-for.ts';

export interface RedisServerOptions {
  /** Address to bind; default 127.0.0.1. */
  host?: string;
  /** Default: a free port (retried if another process takes it first). */
  port?: number;
  /** Sets `requirepass`. (It is visible in `ps`; this is for local tests only.) */
  password?: string;
  /** Append redis-server's output to this file; otherwise the last 64 KiB are kept for errors. */
  logFile?: string;
  /** How long to wait for PONG; default 10 s. */
  readyTimeoutMs?: number;
  /** The binary; default `redis-server` from PATH. */
  command?: string;
  /**
   * Persist to an append-only file in this directory, as the Compose and
   * Swarm Redis do: a stop()/start() then keeps the data (a clean shutdown
   * flushes the file). Without it nothing is kept.
   */
  dataDir?: string;
  /** More redis-server arguments (e.g. `--replicaof`, `--cluster-enabled yes`), after ours. */
  extraArgs?: readonly string[];
}

export interface RedisServerHandle extends AsyncDisposable {
  /** redis://[:password@]host:port */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly running: boolean;
  /** Process id while running (the benchmark reads its CPU and memory from /proc). */
  readonly pid: number | undefined;
  /** Stop the server (SIGTERM, SIGKILL after 5 s). Idempotent. */
  stop(): Promise<void>;
  /** Start it again on the same port after stop(); a no-op while running. Data is kept only with `dataDir`. */
  start(): Promise<void>;
  /** kill -9, as a crash: no shutdown, no final AOF flush. Resolves once it has exited. Idempotent. */
  kill(): Promise<void>;
}

export class RedisServerMissingError extends Error {
  readonly code = 'REDIS_SERVER_MISSING';
  constructor(command: string) {
    super(
      `${command} not found on PATH: the local topology runs a real Redis. Install it with ` +
        '`apt-get install redis-server` (as root), or run `make setup`.',
    );
    this.name = 'RedisServerMissingError';
  }
}

/** The executable's path, or undefined when it is not on PATH (or not executable). */
export function findExecutable(command: string, path = process.env.PATH ?? ''): string | undefined {
  const candidates = command.includes('/') ? [command] : path.split(delimiter).filter(Boolean).map((dir) => join(dir, command));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  return undefined;
}

/** The RESP encoding of one command, so passwords with spaces or quotes survive. */
export function encodeCommand(args: readonly string[]): string {
  return `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`;
}

/** Resolves true when the server answers PING with PONG (after AUTH when a password is given). */
export function pingRedis(host: string, port: number, password?: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    let received = '';
    // A hard deadline, not socket.setTimeout: that one is about idleness and
    // is cleared when the peer closes, which would leave this pending forever.
    const deadline = setTimeout(() => finish(false), timeoutMs);
    function finish(ok: boolean) {
      clearTimeout(deadline);
      socket.destroy();
      resolve(ok);
    }
    socket.once('error', () => finish(false));
    socket.once('close', () => finish(false));
    socket.on('data', (chunk) => {
      received += chunk.toString('utf8');
      if (received.includes('+PONG\r\n')) finish(true);
      else if (received.startsWith('-') || received.includes('\r\n-')) finish(false);
    });
    socket.once('connect', () => {
      const auth = password === undefined ? '' : encodeCommand(['AUTH', password]);
      socket.write(auth + encodeCommand(['PING']));
    });
  });
}

function redisUrl(host: string, port: number, password: string | undefined): string {
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const auth = password === undefined ? '' : `:${encodeURIComponent(password)}@`;
  return `redis://${auth}${hostPart}:${port}`;
}

function outputTail(child: ManagedProcess, lines = 20): string {
  return child.output().trim().split('\n').slice(-lines).join('\n');
}

class PortTakenError extends Error {
  constructor(
    readonly port: number,
    readonly output: string,
  ) {
    super(`port ${port} is taken`);
  }
}

/**
 * A real `redis-server` on a loopback port (persistent only with `dataDir`), as a handle
 * with a lifecycle. It answers PING before this resolves; if it cannot
 * start, nothing is left running and the error carries its output.
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServerHandle> {
  const host = options.host ?? '127.0.0.1';
  const command = options.command ?? 'redis-server';
  const readyTimeoutMs = options.readyTimeoutMs ?? 10_000;
  const executable = findExecutable(command);
  if (!executable) throw new RedisServerMissingError(command);
  if (options.dataDir !== undefined) await mkdir(options.dataDir, { recursive: true });

  const launch = async (port: number): Promise<ManagedProcess> => {
    const args = [
      '--port',
      String(port),
      '--bind',
      host,
      '--save',
      '',
      ...(options.dataDir === undefined ? ['--appendonly', 'no'] : ['--appendonly', 'yes', '--appendfsync', 'everysec']),
      '--daemonize',
      'no',
      // Without dataDir nothing is persisted, but keep redis-server from writing into the repository anyway.
      '--dir',
      options.dataDir ?? tmpdir(),
      ...(options.password === undefined ? [] : ['--requirepass', options.password, '--masterauth', options.password]),
      ...(options.extraArgs ?? []),
    ];
    const child = spawnManaged(executable, args, {
      name: `redis-server:${port}`,
      ...(options.logFile ? { logFile: options.logFile } : {}),
    });
    const exited = new AbortController();
    void child.exited.then(() => exited.abort());
    try {
      await waitFor(() => pingRedis(host, port, options.password), {
        what: `redis-server on ${host}:${port} to answer PING`,
        timeoutMs: readyTimeoutMs,
        signal: exited.signal,
      });
      return child;
    } catch (error) {
      await child.stop(1000);
      const output = outputTail(child);
      if (/Address already in use/i.test(output)) throw new PortTakenError(port, output);
      const reason = exited.signal.aborted
        ? `redis-server on ${host}:${port} ${child.describeExit()} before answering PING`
        : error instanceof Error
          ? error.message
          : String(error);
      throw new Error(`${reason}\n--- redis-server output ---\n${output}`);
    }
  };

  let port = options.port;
  let child: ManagedProcess | undefined;
  for (let attempt = 1; child === undefined; attempt += 1) {
    const chosen = port ?? (await freeTcpPort(host));
    try {
      child = await launch(chosen);
      port = chosen;
    } catch (error) {
      // A port picked for us may be taken between the probe and the bind: pick another.
      if (error instanceof PortTakenError && options.port === undefined && attempt < 5) continue;
      if (!(error instanceof PortTakenError)) throw error;
      throw new Error(
        `redis-server cannot bind ${host}:${chosen}: address already in use\n--- redis-server output ---\n${error.output}`,
      );
    }
  }

  const fixedPort = port as number;
  let current: ManagedProcess | undefined = child;
  let transition: Promise<void> = Promise.resolve();
  // stop() and start() run one after the other, never interleaved.
  const serialize = (step: () => Promise<void>): Promise<void> => {
    transition = transition.then(step, step);
    return transition;
  };

  const handle: RedisServerHandle = {
    url: redisUrl(host, fixedPort, options.password),
    host,
    port: fixedPort,
    get running() {
      return current?.running ?? false;
    },
    get pid() {
      return current?.running ? current.pid : undefined;
    },
    stop: () =>
      serialize(async () => {
        const stopping = current;
        current = undefined;
        await stopping?.stop(5000);
      }),
    start: () =>
      serialize(async () => {
        if (current?.running) return;
        current = await launch(fixedPort);
      }),
    kill: () =>
      serialize(async () => {
        const killed = current;
        current = undefined;
        killed?.signal('SIGKILL');
        await killed?.exited;
      }),
    [Symbol.asyncDispose]: () => handle.stop(),
  };
  return handle;
}
