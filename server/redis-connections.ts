import { createClient } from 'redis';
import type { RedisConnectionState } from './protocol.ts';
import type { Logger } from './logger.ts';

/** Only here so that RedisClient is the concrete type createClient infers for our options. */
function newClient(url: string, password: string | undefined, queueLimit: number, maxDelay: number) {
  return createClient({
    url,
    ...(password === undefined ? {} : { password }),
    commandsQueueMaxLength: queueLimit,
    socket: {
      connectTimeout: 5000,
      // Never give up: a replica outlives any Redis outage. Jitter keeps
      // many replicas from reconnecting in lockstep.
      reconnectStrategy: (retries: number) =>
        Math.min(50 * 2 ** Math.min(retries, 16), maxDelay) + Math.floor(Math.random() * 50),
    },
  });
}

export type RedisClient = ReturnType<typeof newClient>;

export interface RedisConnectionsOptions {
  url: string;
  /** Overrides a password in `url` (REDIS_PASSWORD_FILE). */
  password?: string | undefined;
  logger: Logger;
  /** Cap of the exponential reconnection backoff. */
  maxReconnectDelayMs?: number;
  /**
   * Commands queued while Redis is unreachable, per connection. Beyond it
   * commands fail at once (and are logged) instead of growing memory without
   * bound during a long outage; the pub/sub adapter is at-most-once anyway.
   */
  offlineQueueLimit?: number;
  /**
   * Every failed command on these connections (e.g. a PUBLISH cut by a Redis
   * restart): a hook for metrics. `command` is the node-redis method the
   * caller used (`publish`, `xAdd`, …): a name chosen by code, never by clients.
   */
  onCommandError?: (connection: string, command: string, error: unknown) => void;
}

interface Tracked {
  name: string;
  raw: RedisClient;
  state: RedisConnectionState;
  failures: number;
}

/**
 * Every Redis connection of one replica: created with a capped backoff so a
 * Redis restart is survived, watched so /readyz can tell whether all of them
 * are ready, and closed together.
 *
 * The adapters call node-redis commands without handling their promises
 * (`pubClient.publish(...)`), and node-redis rejects commands that were in
 * flight when a connection drops; on Node 20 an unhandled rejection kills the
 * process. So what the adapters get is a guarded view of each client: every
 * promise it returns already has a rejection handler (which logs), and
 * callers that do await it still see the rejection. Clients the adapters
 * `duplicate()` themselves (the streams adapter does) are tracked and guarded too.
 */
export class RedisConnections {
  readonly #options: RedisConnectionsOptions;
  readonly #tracked: Tracked[] = [];
  #closing: Promise<void> | undefined;

  constructor(options: RedisConnectionsOptions) {
    this.#options = options;
  }

  /** A new connection, already connecting (commands issued meanwhile are queued). */
  create(name: string): RedisClient {
    const raw = newClient(
      this.#options.url,
      this.#options.password,
      this.#options.offlineQueueLimit ?? 10_000,
      this.#options.maxReconnectDelayMs ?? 2000,
    );
    const tracked = this.#track(name, raw);
    raw.connect().catch((error: unknown) => {
      // Rejects only when closed before the first connection succeeded.
      this.#options.logger.debug({ redis: name, err: error }, 'redis connect aborted');
    });
    return this.#guard(tracked);
  }

  /** Per connection: what /readyz reports. */
  states(): Record<string, RedisConnectionState> {
    const states: Record<string, RedisConnectionState> = {};
    for (const t of this.#tracked) states[t.name] = t.state;
    return states;
  }

  /** True while every connection is ready (and there is at least one). */
  get ready(): boolean {
    return this.#tracked.length > 0 && this.#tracked.every((t) => t.raw.isReady);
  }

  /**
   * Close every connection: gracefully (pending replies awaited) within
   * `graceMs`, then by force. Close the adapters first: the streams adapter
   * polls in a loop that only stops once its adapter is closed. Idempotent.
   */
  close(graceMs = 300): Promise<void> {
    this.#closing ??= Promise.all(this.#tracked.map((t) => this.#closeOne(t, graceMs))).then(() => undefined);
    return this.#closing;
  }

  async #closeOne(t: Tracked, graceMs: number): Promise<void> {
    if (!t.raw.isOpen) {
      t.state = 'closed';
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const graceful = t.raw.close().catch(() => undefined);
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([graceful, bound]);
    clearTimeout(timer);
    // A blocked XREAD (streams adapter) never finishes gracefully in time.
    t.raw.destroy();
    t.state = 'closed';
  }

  #track(name: string, raw: RedisClient): Tracked {
    const { logger } = this.#options;
    const tracked: Tracked = { name, raw, state: 'connecting', failures: 0 };
    this.#tracked.push(tracked);
    raw.on('ready', () => {
      if (tracked.failures > 0) logger.info({ redis: name, failures: tracked.failures }, 'redis connection restored');
      else logger.debug({ redis: name }, 'redis connection ready');
      tracked.state = 'ready';
      tracked.failures = 0;
    });
    // Without an 'error' listener node-redis' EventEmitter would throw and kill the process.
    raw.on('error', (error: unknown) => {
      tracked.failures += 1;
      const wasReady = tracked.state === 'ready';
      if (tracked.state !== 'closed') tracked.state = wasReady ? 'reconnecting' : tracked.state;
      // One warning per outage; the retries behind it at debug level.
      if (wasReady || tracked.failures === 1) logger.warn({ redis: name, err: error }, 'redis connection error');
      else logger.debug({ redis: name, err: error, failures: tracked.failures }, 'redis still unreachable');
    });
    raw.on('reconnecting', () => {
      if (tracked.state !== 'closed') tracked.state = 'reconnecting';
    });
    raw.on('end', () => {
      tracked.state = 'closed';
    });
    return tracked;
  }

  #guard(tracked: Tracked): RedisClient {
    const onRejected = (command: string, error: unknown) => {
      // Commands cut by our own close() are expected, and those cut by an
      // outage were announced by the connection's own warning: not news.
      const level = this.#closing || !tracked.raw.isReady ? 'debug' : 'warn';
      this.#options.logger[level]({ redis: tracked.name, command, err: error }, 'redis command failed');
      this.#options.onCommandError?.(tracked.name, command, error);
    };
    const wrappers = new Map<PropertyKey, unknown>();
    let duplicates = 0;
    const handler: ProxyHandler<RedisClient> = {
      get: (target, property) => {
        // Read with the real client as receiver: node-redis uses #private fields.
        const value: unknown = Reflect.get(target, property, target);
        if (typeof value !== 'function') return value;
        const cached = wrappers.get(property);
        if (cached) return cached;
        const wrapper =
          property === 'duplicate'
            ? (...args: unknown[]) => {
                duplicates += 1;
                const copy = (value as (...a: unknown[]) => RedisClient).apply(target, args);
                return this.#guard(this.#track(`${tracked.name}-dup${duplicates}`, copy));
              }
            : (...args: unknown[]) => {
                const result: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
                if (result instanceof Promise) result.catch((error: unknown) => onRejected(String(property), error));
                // Chaining calls (client.on(...).on(...)) keep going through the guard.
                return result === target ? proxy : result;
              };
        wrappers.set(property, wrapper);
        return wrapper;
      },
    };
    const proxy = new Proxy(tracked.raw, handler);
    return proxy;
  }
}
