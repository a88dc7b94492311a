import { createClient, createCluster, createSentinel } from 'redis';
import type { RedisNodeAddress } from './config.ts';
import type { Logger } from './logger.ts';
import type { RedisConnectionState } from './protocol.ts';

/** Where Redis is: what REDIS_MODE and its variables say. */
export type RedisTarget =
  | { readonly mode: 'standalone'; readonly url: string }
  | { readonly mode: 'sentinel'; readonly sentinels: readonly RedisNodeAddress[]; readonly masterName: string }
  | { readonly mode: 'cluster'; readonly nodes: readonly RedisNodeAddress[] };

interface ClientSettings {
  password: string | undefined;
  queueLimit: number;
  maxDelay: number;
}

function socketOptions(maxDelay: number) {
  return {
    connectTimeout: 5000,
    // Never give up: a replica outlives any Redis outage. Jitter keeps
    // many replicas from reconnecting in lockstep.
    reconnectStrategy: (retries: number) =>
      Math.min(50 * 2 ** Math.min(retries, 16), maxDelay) + Math.floor(Math.random() * 50),
  };
}

/** Only here so that RedisClient is the concrete type createClient infers for our options. */
function newStandalone(url: string, { password, queueLimit, maxDelay }: ClientSettings) {
  return createClient({
    url,
    ...(password === undefined ? {} : { password }),
    commandsQueueMaxLength: queueLimit,
    socket: socketOptions(maxDelay),
  });
}

function newSentinel(sentinels: readonly RedisNodeAddress[], masterName: string, { password, queueLimit, maxDelay }: ClientSettings) {
  const auth = password === undefined ? {} : { password };
  return createSentinel({
    name: masterName,
    sentinelRootNodes: sentinels.map((node) => ({ host: node.host, port: node.port })),
    nodeClientOptions: { ...auth, commandsQueueMaxLength: queueLimit, socket: socketOptions(maxDelay) },
    sentinelClientOptions: { ...auth, socket: socketOptions(maxDelay) },
  });
}

function newCluster(nodes: readonly RedisNodeAddress[], { password, queueLimit, maxDelay }: ClientSettings) {
  return createCluster({
    rootNodes: nodes.map((node) => ({ socket: { host: node.host, port: node.port } })),
    // While a node's client is reconnecting, ask the cluster for its slots
    // again after 1 s (node-redis' default: 5 s): a dead master's replica is
    // promoted after cluster-node-timeout, and until the client learns it,
    // every command for those slots waits on the dead address.
    topologyRefreshOnReconnectionAttemptStrategy: 1000,
    defaults: {
      ...(password === undefined ? {} : { password }),
      commandsQueueMaxLength: queueLimit,
      socket: socketOptions(maxDelay),
    },
  });
}

/**
 * What the adapters get: a node-redis client, sentinel or cluster. The
 * adapters take them untyped and tell them apart by their methods.
 */
export type RedisClient = ReturnType<typeof newStandalone>;

/** The members RedisConnections itself uses, common to the three kinds. */
interface RawConnection {
  readonly isReady: boolean;
  readonly isOpen: boolean;
  on(event: string, listener: (...args: never[]) => void): unknown;
  connect(): Promise<unknown>;
  close(): Promise<unknown>;
  destroy(): unknown;
}

function newConnection(target: RedisTarget, settings: ClientSettings): RawConnection {
  switch (target.mode) {
    case 'standalone':
      return newStandalone(target.url, settings) as unknown as RawConnection;
    case 'sentinel':
      return newSentinel(target.sentinels, target.masterName, settings) as unknown as RawConnection;
    case 'cluster':
      return newCluster(target.nodes, settings) as unknown as RawConnection;
  }
}

/**
 * One PING that proves the connection answers: a standalone or sentinel
 * client PINGs its server (its current master); a cluster client PINGs
 * every master it knows, since a dead master cuts the slots it served.
 */
function probe(mode: RedisTarget['mode'], raw: RawConnection, timeoutMs: number): Promise<unknown> {
  if (mode !== 'cluster') return (raw as unknown as { ping(): Promise<unknown> }).ping();
  const cluster = raw as unknown as {
    masters: readonly unknown[];
    nodeClient(node: unknown): { ping(): Promise<unknown> } | Promise<{ ping(): Promise<unknown> }>;
  };
  // The client of a dead master reconnects for ever, so asking for it may never
  // settle: bound it, and the next PING asks the masters known by then.
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`a cluster master did not answer PING within ${timeoutMs} ms`)), timeoutMs);
  });
  const all = Promise.all(cluster.masters.map(async (node) => (await cluster.nodeClient(node)).ping()));
  all.catch(() => undefined);
  return Promise.race([all, bound]).finally(() => clearTimeout(timer));
}

/**
 * node-redis' RedisSentinel.sendCommand takes `(isReadonly, args, options)`,
 * unlike a client's `(args, options)`. @socket.io/redis-adapter counts the
 * replicas with `sendCommand(['PUBSUB', 'NUMSUB', channel])`, which on a
 * sentinel is a command without arguments: requests that need a server count
 * (fetchSockets, serverSideEmit with ack) then never complete
 * (socket.io-redis-adapter #571/#573). Called the client's way, run it the
 * sentinel's way, on the master.
 */
export function sentinelSendCommand(
  send: (isReadonly: boolean | undefined, args: readonly unknown[], options?: unknown) => unknown,
  args: readonly unknown[],
): unknown {
  if (Array.isArray(args[0])) return send(false, args[0] as unknown[], args[1]);
  return send(args[0] as boolean | undefined, args[1] as unknown[], args[2]);
}

/** See RedisConnections' quiet recovery: well past the 2 s reconnect backoff cap. */
export const SENTINEL_QUIET_MS = 10_000;
/** After a master change: long enough for the pubsub client to resubscribe (ms on a LAN). */
export const SENTINEL_SETTLE_MS = 1000;

/**
 * Whether an error a sentinel client emitted comes from a node client aimed
 * at a host that is no longer the master. node-redis' sentinel pubsub
 * proxy, when the master changes while its client is still connecting,
 * leaves that client retrying the old address for ever (ENOTFOUND on Docker,
 * where a stopped container's name leaves DNS) and passes on its errors
 * while a new client serves. Counted, they held /readyz at 503 for good
 * after a failover on the Compose Sentinel stack (measured: 2 of 3 replicas
 * stuck, with their subscriptions live on the new master).
 *
 * Also true for errors of the sentinel side, not of any data node: the
 * topology observer's, which node-redis emits per sentinel as a string
 * (`obseve client error: …`, its spelling) before it tries the next one, and
 * its sentinel connection's (`Sentinel Client (host:port): …`). On Swarm,
 * where every service starts at once, `getaddrinfo ENOTFOUND sentinel-1`
 * from the observer (a sentinel not yet in DNS) flapped replicas' /readyz
 * for ~13 s after start, and one got no client in the CI run.
 */
export function staleSentinelError(client: unknown, error: unknown): boolean {
  const message = typeof error === 'string' ? error : error instanceof Error ? error.message : '';
  if (message.startsWith('obseve client error') || message.startsWith('Sentinel Client (')) return true;
  const master = (client as { getMasterNode?: () => { host: string; port: number } | undefined }).getMasterNode?.();
  if (!master || typeof error !== 'object' || error === null) return false;
  const { hostname, address, port } = error as { hostname?: unknown; address?: unknown; port?: unknown };
  const host = typeof hostname === 'string' ? hostname : typeof address === 'string' ? address : undefined;
  if (host === undefined) return false;
  return host !== master.host || (typeof port === 'number' && port !== master.port);
}

export interface RedisConnectionsOptions {
  target: RedisTarget;
  /** Overrides a password in a standalone URL (REDIS_PASSWORD_FILE); sentinel and cluster nodes use it too. */
  password?: string | undefined;
  /** How often each connection is PINGed; default 1 s. */
  pingIntervalMs?: number;
  /** A PING unanswered this long makes its connection `unresponsive`; default 2 s. */
  pingTimeoutMs?: number;
  /** Called once when Redis has been unavailable (some connection not ready) for `lostAfterMs`; 0 = never. */
  lostAfterMs?: number;
  onLost?: (unavailableMs: number) => void;
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
  /**
   * A connection's first connect gave up for good. Only a sentinel client
   * does that: node-redis tries its first topology scan 16 times a second
   * apart (maxCommandRediscovers), then destroys the client, so a replica
   * started while no sentinel answered would stay not ready for ever. (The
   * same setting bounds how long commands wait when every sentinel is down
   * while the master is fine, which is why it stays at 16.) The replica
   * exits on it, so its orchestrator starts it again.
   */
  onGaveUp?: (connection: string, error: unknown) => void;
}

interface Tracked {
  name: string;
  raw: RawConnection;
  state: RedisConnectionState;
  failures: number;
  /** Set while a watchdog PING is out. */
  probeSentAt: number | undefined;
  /** True after a PING went unanswered for pingTimeoutMs, until one is answered. */
  unresponsive: boolean;
  /** Blocking reads in flight (the streams adapter's XREAD BLOCK) and since when the oldest is out. */
  blocking: number;
  blockingSince: number | undefined;
  /** Whether connect() has resolved once; `opened` settles then. */
  isOpened: boolean;
  /** When the last error that counted was seen, and the last PING answered (performance.now()). */
  lastErrorAt: number | undefined;
  lastPingOkAt: number | undefined;
  /** Sentinel: when the client last moved to a new master ('topology-change' MASTER_CHANGE). */
  masterChangedAt: number | undefined;
  /** Sentinel: whether it has moved to another master since its first connection. */
  movedMaster: boolean;
  opened: Promise<void>;
  markOpened: () => void;
}

/**
 * Blocking reads: a PING queued behind one waits for it (the streams
 * adapter's XREAD blocks up to 5 s when idle), so a connection with one in
 * flight is not PINGed; it is unresponsive only if the read itself overruns
 * its block time (BLOCKING_READ_BOUND_MS) by the PING timeout.
 */
const BLOCKING_READS = new Set<PropertyKey>(['xRead', 'XREAD', 'xReadGroup', 'XREADGROUP']);
/** The streams adapter's `blockTimeInMs` default, which wsk does not change. */
export const BLOCKING_READ_BOUND_MS = 5000;

/**
 * Members that must act at once even before the first connection: events,
 * lifecycle. Any other call on a sentinel or cluster client made before it
 * has connected waits for that connection (see #guard).
 */
const IMMEDIATE = new Set<PropertyKey>([
  'on',
  'once',
  'off',
  'addListener',
  'removeListener',
  'removeAllListeners',
  'emit',
  'listeners',
  'listenerCount',
  'duplicate',
  'connect',
  'close',
  'destroy',
]);

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
  #watchdog: NodeJS.Timeout | undefined;
  #unavailableSince: number | undefined;
  #lostReported = false;

  constructor(options: RedisConnectionsOptions) {
    this.#options = options;
  }

  get mode(): RedisTarget['mode'] {
    return this.#options.target.mode;
  }

  /** A new connection, already connecting (commands issued meanwhile are queued). */
  create(name: string): RedisClient {
    const raw = newConnection(this.#options.target, {
      password: this.#options.password,
      queueLimit: this.#options.offlineQueueLimit ?? 10_000,
      maxDelay: this.#options.maxReconnectDelayMs ?? 2000,
    });
    const tracked = this.#track(name, raw);
    this.#startWatchdog();
    raw.connect().then(tracked.markOpened, (error: unknown) => {
      // A standalone or cluster client rejects only when closed before its
      // first connection; a sentinel client also when it gave up (above).
      if (this.#closing) {
        this.#options.logger.debug({ redis: name, err: error }, 'redis connect aborted');
        return;
      }
      this.#options.logger.error({ redis: name, err: error }, 'redis connect gave up');
      this.#options.onGaveUp?.(name, error);
    });
    return this.#guard(tracked);
  }

  /** Per connection: what /readyz reports. */
  states(): Record<string, RedisConnectionState> {
    const states: Record<string, RedisConnectionState> = {};
    for (const t of this.#tracked) states[t.name] = this.#stateOf(t);
    return states;
  }

  /** True while every connection is ready and answers PING (and there is at least one). */
  get ready(): boolean {
    return this.#tracked.length > 0 && this.#tracked.every((t) => this.#stateOf(t) === 'ready');
  }

  /** True once some connection exists (false for the in-memory adapter). */
  get used(): boolean {
    return this.#tracked.length > 0;
  }

  #stateOf(t: Tracked): RedisConnectionState {
    // A cluster client emits no ready/reconnecting of its own: ask it.
    if (this.mode === 'cluster' && t.state !== 'closed') {
      if (!t.raw.isReady) return t.state === 'connecting' ? 'connecting' : 'reconnecting';
      return t.unresponsive ? 'unresponsive' : 'ready';
    }
    // Errors no longer count once it has moved (see #track): its own isReady does.
    if (this.mode === 'sentinel' && t.state === 'ready' && !t.raw.isReady) return 'reconnecting';
    return t.state === 'ready' && t.unresponsive ? 'unresponsive' : t.state;
  }

  /**
   * Every pingIntervalMs: PING each ready connection that has no PING out,
   * and mark unresponsive the ones whose PING is older than pingTimeoutMs.
   * A connection whose packets are dropped (a partition, a dead host) shows
   * no error for minutes, until TCP gives up: this notices it in seconds.
   * It does not tear the connection down: when the network heals, the
   * replies arrive and it is ready again; a dead server is a reset (loopback)
   * or a TCP timeout, after which node-redis reconnects by itself.
   */
  #startWatchdog(): void {
    if (this.#watchdog) return;
    const interval = this.#options.pingIntervalMs ?? 1000;
    const timeout = this.#options.pingTimeoutMs ?? 2000;
    this.#watchdog = setInterval(() => this.#tick(timeout), interval);
    this.#watchdog.unref();
  }

  #tick(timeoutMs: number): void {
    const now = performance.now();
    for (const t of this.#tracked) {
      if (t.state === 'closed') continue;
      this.#sentinelQuietRecovery(t, now);
      if (t.blocking > 0 && t.probeSentAt === undefined) {
        if (t.blockingSince !== undefined && now - t.blockingSince >= BLOCKING_READ_BOUND_MS + timeoutMs && !t.unresponsive) {
          t.unresponsive = true;
          this.#options.logger.warn({ redis: t.name, timeoutMs: BLOCKING_READ_BOUND_MS + timeoutMs }, 'redis connection unresponsive: blocking read overran');
        }
        continue;
      }
      if (t.probeSentAt !== undefined) {
        if (now - t.probeSentAt >= timeoutMs && !t.unresponsive) {
          t.unresponsive = true;
          this.#options.logger.warn({ redis: t.name, timeoutMs }, 'redis connection unresponsive: PING unanswered');
        }
        continue;
      }
      if (!t.raw.isReady) continue;
      t.probeSentAt = now;
      probe(this.mode, t.raw, timeoutMs).then(
        () => {
          t.probeSentAt = undefined;
          t.lastPingOkAt = performance.now();
          if (t.unresponsive) this.#options.logger.info({ redis: t.name }, 'redis connection answers PING again');
          t.unresponsive = false;
        },
        () => {
          // node-redis' own command timeout (5 s), a cut connection, a dead cluster master: not an answer.
          t.probeSentAt = undefined;
          if (this.mode === 'cluster' && !t.unresponsive) {
            t.unresponsive = true;
            this.#options.logger.warn({ redis: t.name, timeoutMs }, 'redis cluster unresponsive: a master did not answer PING');
          }
        },
      );
    }
    const ready = this.ready;
    if (ready) {
      this.#unavailableSince = undefined;
      this.#lostReported = false;
      return;
    }
    this.#unavailableSince ??= now;
    const lostAfter = this.#options.lostAfterMs ?? 0;
    const unavailableMs = now - this.#unavailableSince;
    if (lostAfter > 0 && !this.#lostReported && unavailableMs >= lostAfter && !this.#closing) {
      this.#lostReported = true;
      this.#options.onLost?.(Math.round(unavailableMs));
    }
  }

  /**
   * A sentinel client announces 'ready' only on its own transitions. A
   * subscriber issues no commands, so when its master dies it never turns
   * not-ready; it moves on `+switch-master` and no 'ready' follows; nor after
   * a node client repaired itself (a pubsub client reconnected to the same
   * master). Either way the connection would stay 'reconnecting' for ever
   * (measured on Compose: /readyz 503 until REDIS_LOST_DRAIN_MS disconnected
   * every client). So it is ready again once the client says it is, a PING
   * was answered since, and: SENTINEL_SETTLE_MS passed without an error
   * since it moved to a new master, or SENTINEL_QUIET_MS (past the reconnect
   * backoff's cap: a client still retrying would have spoken) with no move.
   */
  #sentinelQuietRecovery(t: Tracked, now: number): void {
    if (this.mode !== 'sentinel' || t.state !== 'reconnecting' || !t.raw.isReady || t.lastErrorAt === undefined) return;
    // Moved to a new master since the error: that move was the repair.
    const moved = t.masterChangedAt !== undefined && t.masterChangedAt >= t.lastErrorAt;
    const since = moved ? (t.masterChangedAt as number) : t.lastErrorAt;
    const quietMs = moved ? SENTINEL_SETTLE_MS : SENTINEL_QUIET_MS;
    if (now - since < quietMs || (t.lastPingOkAt ?? 0) <= since) return;
    this.#options.logger.info({ redis: t.name, failures: t.failures, quietMs, moved }, 'redis connection restored (quiet since its last error)');
    t.state = 'ready';
    t.failures = 0;
  }

  /**
   * Close every connection: gracefully (pending replies awaited) within
   * `graceMs`, then by force. Close the adapters first: the streams adapter
   * polls in a loop that only stops once its adapter is closed. Idempotent.
   */
  close(graceMs = 300): Promise<void> {
    clearInterval(this.#watchdog);
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

  #track(name: string, raw: RawConnection): Tracked {
    const { logger } = this.#options;
    let markOpened: () => void = () => undefined;
    const opened = new Promise<void>((resolve) => {
      markOpened = () => {
        tracked.isOpened = true;
        resolve();
      };
    });
    const tracked: Tracked = {
      name,
      raw,
      state: 'connecting',
      failures: 0,
      probeSentAt: undefined,
      unresponsive: false,
      blocking: 0,
      blockingSince: undefined,
      isOpened: false,
      lastErrorAt: undefined,
      lastPingOkAt: undefined,
      masterChangedAt: undefined,
      movedMaster: false,
      opened,
      markOpened: () => markOpened(),
    };
    this.#tracked.push(tracked);
    // A cluster client says 'connect' once its slots are known (no 'ready').
    raw.on(this.mode === 'cluster' ? 'connect' : 'ready', () => {
      if (tracked.failures > 0) logger.info({ redis: name, failures: tracked.failures }, 'redis connection restored');
      else logger.debug({ redis: name }, 'redis connection ready');
      tracked.state = 'ready';
      tracked.failures = 0;
    });
    // Without an 'error' listener node-redis' EventEmitter would throw and kill the process.
    raw.on('error', (error: unknown) => {
      // After a move (see the 'topology-change' listener) the client may hold
      // a leaked pubsub client retrying the old master for ever; its errors
      // (ENOTFOUND, "Connection timeout": not always naming the host) say
      // nothing about the connection in use. The watchdog PING and the
      // client's own isReady still do.
      if (this.mode === 'sentinel' && (tracked.movedMaster || staleSentinelError(raw, error))) {
        logger.debug({ redis: name, err: error }, 'redis error from a node client that is not the master in use (ignored)');
        return;
      }
      tracked.failures += 1;
      tracked.lastErrorAt = performance.now();
      const wasReady = tracked.state === 'ready';
      if (tracked.state !== 'closed') tracked.state = wasReady ? 'reconnecting' : tracked.state;
      // One warning per outage; the retries behind it at debug level.
      if (wasReady || tracked.failures === 1) logger.warn({ redis: name, err: error }, 'redis connection error');
      else logger.debug({ redis: name, err: error, failures: tracked.failures }, 'redis still unreachable');
    });
    if (this.mode === 'sentinel') {
      raw.on('topology-change', (event: { type?: unknown }) => {
        if (event?.type !== 'MASTER_CHANGE') return;
        const now = performance.now();
        tracked.masterChangedAt = now;
        if (tracked.state !== 'connecting') tracked.movedMaster = true;
        // Not the first master (the initial connect announces it too): a
        // switch. A switchover forced by an operator shows no error at all
        // (the demoted master keeps answering), yet broadcasts published
        // while the clients move between masters go missing: say so for
        // SENTINEL_SETTLE_MS instead of answering ready through it.
        if (tracked.state === 'ready') {
          logger.info({ redis: name }, 'redis master changed: settling');
          tracked.state = 'reconnecting';
          tracked.lastErrorAt = now;
        }
      });
    }
    raw.on('reconnecting', () => {
      if (tracked.state !== 'closed') tracked.state = 'reconnecting';
    });
    raw.on('end', () => {
      tracked.state = 'closed';
    });
    return tracked;
  }

  #guard(tracked: Tracked): RedisClient {
    const sentinel = this.mode === 'sentinel';
    const onRejected = (command: string, error: unknown) => {
      // Commands cut by our own close() are expected, and those cut by an
      // outage were announced by the connection's own warning: not news.
      const level = this.#closing || !tracked.raw.isReady ? 'debug' : 'warn';
      this.#options.logger[level]({ redis: tracked.name, command, err: error }, 'redis command failed');
      this.#options.onCommandError?.(tracked.name, command, error);
    };
    const wrappers = new Map<PropertyKey, unknown>();
    let duplicates = 0;
    const handler: ProxyHandler<RawConnection> = {
      get: (target, property) => {
        // Read with the real client as receiver: node-redis uses #private fields.
        const value: unknown = Reflect.get(target, property, target);
        if (typeof value !== 'function') return value;
        const cached = wrappers.get(property);
        if (cached) return cached;
        const direct = (...args: unknown[]): unknown =>
          sentinel && property === 'sendCommand'
            ? sentinelSendCommand((...a) => (value as (...b: unknown[]) => unknown).apply(target, a), args)
            : (value as (...a: unknown[]) => unknown).apply(target, args);
        // A standalone client queues commands issued while it connects; a
        // sentinel or cluster client rejects them ("client is closed"), and
        // the adapters subscribe in their constructors, before any connection:
        // those subscriptions would be lost. So such calls wait for the first connection.
        const call = (...args: unknown[]): unknown => {
          if (this.mode === 'standalone' || tracked.isOpened || IMMEDIATE.has(property)) {
            const result = direct(...args);
            if (property === 'connect' && result instanceof Promise) result.then(tracked.markOpened, () => undefined);
            return result;
          }
          return tracked.opened.then(() => direct(...args));
        };
        const wrapper =
          property === 'duplicate'
            ? (...args: unknown[]) => {
                duplicates += 1;
                const copy = (value as (...a: unknown[]) => RawConnection).apply(target, args);
                return this.#guard(this.#track(`${tracked.name}-dup${duplicates}`, copy));
              }
            : (...args: unknown[]) => {
                if (BLOCKING_READS.has(property)) {
                  tracked.blocking += 1;
                  tracked.blockingSince ??= performance.now();
                }
                const result: unknown = call(...args);
                if (BLOCKING_READS.has(property)) {
                  const done = (answered: boolean) => {
                    tracked.blocking -= 1;
                    tracked.blockingSince = tracked.blocking > 0 ? performance.now() : undefined;
                    // A read that came back is an answer: for the unresponsive
                    // check, and for Sentinel's quiet recovery, which wants an
                    // answer since the last error (the streams adapter's reader
                    // always has a read out, so it is never PINGed).
                    if (answered) tracked.lastPingOkAt = performance.now();
                    if (answered && tracked.unresponsive && tracked.probeSentAt === undefined) tracked.unresponsive = false;
                  };
                  if (result instanceof Promise) result.then(() => done(true), () => done(false));
                  else done(true);
                }
                if (result instanceof Promise) result.catch((error: unknown) => onRejected(String(property), error));
                // Chaining calls (client.on(...).on(...)) keep going through the guard.
                return result === target ? proxy : result;
              };
        wrappers.set(property, wrapper);
        return wrapper;
      },
    };
    const proxy = new Proxy(tracked.raw, handler);
    return proxy as unknown as RedisClient;
  }
}
