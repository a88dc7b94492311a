import { createServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type ServerOptions } from 'socket.io';
import { createAdapterSetup } from './adapter.ts';
import { type Config, describeConfig } from './config.ts';
import { ENGINE_ERRORS, type HandshakeGuard, type HandshakeRefusal, handshakeRefusal } from './handshake-guard.ts';
import { registerHandlers } from './handlers.ts';
import { type AppPhase, computeReadiness, healthRoutes } from './health.ts';
import { createRouter, type Routes } from './http-router.ts';
import { createLogger, type Logger } from './logger.ts';
import type { ReadyReply } from './protocol.ts';
import { RedisConnections, type RedisTarget } from './redis-connections.ts';
import { refuseHandshake } from './refuse-handshake.ts';
import { securityFor } from './security.ts';
import type { ReplicaServer, ReplicaSocket } from './socket-types.ts';

/** An Engine.IO connection (what `socket.conn` is). */
type EngineConnection = ReplicaSocket['conn'];

export interface AppDeps {
  /** Defaults to a pino logger at config.logLevel carrying the replica id. */
  logger?: Logger;
  /** Extra plain-HTTP routes (metrics, demo page); they may not replace /healthz or /readyz. */
  routes?: Routes;
  /** Bound on `cluster:replicas`; the classic adapter's request timeout too. */
  clusterTimeoutMs?: number;
  /** Cap of the Redis reconnection backoff. */
  redisMaxReconnectDelayMs?: number;
  /** Called for Redis command failures nobody else handled (metrics hook). */
  onRedisCommandError?: (connection: string, command: string, error: unknown) => void;
  /** A Redis connection will never connect (RedisConnectionsOptions.onGaveUp); main exits. */
  onRedisGaveUp?: (connection: string, error: unknown) => void;
  /**
   * Socket.IO's in-memory adapter instead of config.adapter: no Redis at all
   * (one process, no cluster; /readyz stays 503). For the benchmark's
   * single-node baseline only.
   */
  inMemoryAdapter?: boolean;
  /**
   * An adapter in place of config.adapter and Redis (nothing connects to
   * Redis; /readyz stays 503). For the benchmark's Node `cluster` peer
   * (@socket.io/cluster-adapter) only.
   */
  adapter?: NonNullable<ServerOptions['adapter']>;
  /** Extra handshake checks, after the built-in ones (protocol version, Origin); a refusal is answered as it says. */
  handshakeGuards?: readonly HandshakeGuard[];
}

export interface AppState {
  readonly phase: AppPhase;
  readonly draining: boolean;
  /** What /readyz answers right now. */
  readiness(): ReadyReply;
}

export interface AppHandle extends AsyncDisposable {
  readonly config: Config;
  readonly logger: Logger;
  readonly httpServer: HttpServer;
  readonly io: ReplicaServer;
  readonly state: AppState;
  /** Where the HTTP server listens (the real port when config.port is 0). */
  address(): { host: string; port: number };
  /**
   * Leave the cluster gracefully: /readyz turns 503 and new handshakes are
   * refused at once; after config.drainDelayMs (time for the proxy's health
   * check to notice) every client's engine connection is closed, so clients
   * reconnect through the proxy to another replica. Resolves once they are
   * gone (or after a short bound). Idempotent.
   */
  drain(): Promise<void>;
  /** Close connections, Socket.IO, the HTTP server and Redis. Idempotent; bounded. */
  close(): Promise<void>;
}

/** Like draining: not the client's fault, another replica would take it (503). */
const REDIS_UNAVAILABLE: HandshakeRefusal = Object.freeze({ status: 503, code: ENGINE_ERRORS.FORBIDDEN, message: 'redis unavailable' });

/** What the config says about where Redis is. */
export function redisTarget(config: Config): RedisTarget {
  switch (config.redisMode) {
    case 'standalone':
      return { mode: 'standalone', url: config.redisUrl };
    case 'sentinel':
      return { mode: 'sentinel', sentinels: config.redisSentinels, masterName: config.redisSentinelMaster ?? 'mymaster' };
    case 'cluster':
      return { mode: 'cluster', nodes: config.redisClusterNodes };
  }
}

/** How long drain() waits for engine connections to finish closing. */
const CONNECTIONS_CLOSE_BOUND_MS = 2000;
/** How long close() lets Socket.IO close its adapters (they talk to Redis, which may be down). */
const IO_CLOSE_BOUND_MS = 1000;

function listen(server: HttpServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    server.listen({ port, host }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Resolves with true if `promise` settles within `ms`, false otherwise. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true as const, () => true as const), bound]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * One replica: HTTP server (health routes, 404 elsewhere) + Socket.IO with
 * the protocol's handlers + the Redis adapter chosen by config.adapter.
 * Resolves once the HTTP server listens; Redis may still be connecting
 * (/readyz says so) and is retried for ever. A failed start closes what it
 * opened and rethrows.
 */
export async function createApp(config: Config, deps: AppDeps = {}): Promise<AppHandle> {
  const logger = deps.logger ?? createLogger({ level: config.logLevel, replica: config.replicaId });
  const replica = config.replicaId;
  const clusterTimeoutMs = deps.clusterTimeoutMs ?? 5000;
  let phase: AppPhase = 'running';

  // Set below, once the engine connections it closes exist.
  let onRedisLost: (unavailableMs: number) => void = () => undefined;
  const redis = new RedisConnections({
    target: redisTarget(config),
    password: config.redisPassword,
    logger,
    pingIntervalMs: config.redisPingIntervalMs,
    pingTimeoutMs: config.redisPingTimeoutMs,
    lostAfterMs: config.redisLostDrainMs,
    onLost: (unavailableMs) => onRedisLost(unavailableMs),
    ...(deps.redisMaxReconnectDelayMs === undefined ? {} : { maxReconnectDelayMs: deps.redisMaxReconnectDelayMs }),
    ...(deps.onRedisCommandError ? { onCommandError: deps.onRedisCommandError } : {}),
    ...(deps.onRedisGaveUp ? { onGaveUp: deps.onRedisGaveUp } : {}),
  });
  const setup =
    deps.inMemoryAdapter || deps.adapter
    ? { adapter: deps.adapter, serverOptions: {} }
    : createAdapterSetup(config.adapter, redis, { requestsTimeoutMs: clusterTimeoutMs });
  const readiness = () => computeReadiness({ replica, phase, redis: redis.states() });

  const httpServer = createServer(createRouter({ ...deps.routes, ...healthRoutes(replica, readiness) }));
  // Origin check, authentication, rate limit: on by configuration, not by the caller.
  const security = securityFor(config, logger);
  const guards = [...security.handshakeGuards, ...(deps.handshakeGuards ?? [])];
  // Handshakes answered by refuseHandshake: engine.io reports them as its
  // code 4, which is not what the client was told, so they are logged here.
  const refused = new WeakSet<IncomingMessage>();
  const options: Partial<ServerOptions> = {
    ...setup.serverOptions,
    adapter: setup.adapter,
    pingInterval: config.pingIntervalMs,
    pingTimeout: config.pingTimeoutMs,
    maxHttpBufferSize: config.maxHttpBufferSize,
    perMessageDeflate: config.perMessageDeflate,
    // Engine.io asks only for new sessions, after its own checks (transport,
    // method, sid); requests of existing sessions pass. It would answer every
    // refusal 403 (polling) / 400 (WebSocket), so the refusal is answered
    // here with its own status; the callback then only feeds engine.io's
    // connection_error event.
    allowRequest: (req, callback) => {
      // Without Redis a new client would hear nothing from other replicas:
      // send it elsewhere (the proxy's /readyz check does too, Nginx's cannot).
      const refusal = handshakeRefusal(req, phase, guards) ?? (redis.used && !redis.ready ? REDIS_UNAVAILABLE : undefined);
      if (refusal === undefined) return callback(null, true);
      refuseHandshake(req, refusal);
      refused.add(req);
      logger.debug({ status: refusal.status, code: refusal.code, message: refusal.message, url: req.url }, 'handshake refused');
      callback(refusal.message, false);
    },
  };
  // No `cors` option at all by default: no CORS headers, so browsers keep
  // other origins out (same-origin only). `*` only when configured so.
  if (config.corsOrigins.length > 0) {
    options.cors = {
      origin: config.corsOrigins.includes('*') ? true : [...config.corsOrigins],
      // The proxy's affinity cookie must travel with cross-origin requests.
      credentials: true,
    };
  }
  const io: ReplicaServer = new Server(httpServer, options);
  if (security.middleware) io.use(security.middleware);
  registerHandlers(io, { replica, logger, clusterTimeoutMs: clusterTimeoutMs + 1000, eventChecks: security.eventChecks });
  if (config.discardHandshakeRequest) {
    // Every engine connection keeps the IncomingMessage of its handshake
    // (headers, socket, parser state) for its whole life. Once Socket.IO has
    // built socket.handshake from it, nothing reads it again: let it go.
    // (Socket.IO's docs drop it at engine 'connection', which would also
    // empty socket.handshake.headers; here it goes after the namespace connect.)
    io.on('connection', (socket) => {
      (socket.conn as unknown as { request: unknown }).request = null;
    });
  }
  io.engine.on(
    'connection_error',
    (error: { code?: number; message?: string; req?: IncomingMessage; context?: unknown }) => {
      if (error.req && refused.has(error.req)) return;
      logger.debug(
        { code: error.code, message: error.message, context: error.context, url: error.req?.url },
        'engine connection refused',
      );
    },
  );

  // Every engine connection, including those not (yet) joined to a
  // namespace, so drain and close reach them all.
  const connections = new Set<EngineConnection>();
  io.engine.on('connection', (connection: EngineConnection) => {
    connections.add(connection);
    connection.once('close', () => connections.delete(connection));
  });

  /**
   * A replica cut off from Redis delivers nothing from other replicas to its
   * clients, and the proxy keeps their tunnels: close them, so they reconnect
   * through the proxy to a replica that has Redis. Only after
   * REDIS_LOST_DRAIN_MS, so a short Redis restart drops nobody.
   */
  onRedisLost = (unavailableMs) => {
    if (phase !== 'running') return;
    const closed = closeConnections(true);
    logger.warn({ unavailableMs, closed, redis: redis.states() }, 'redis unavailable too long: closed client connections');
  };

  const drainAbort = new AbortController();
  let draining: Promise<void> | undefined;
  let closing: Promise<void> | undefined;

  /**
   * Close the engine connections, not the Socket.IO sockets: a client told
   * "io server disconnect" does not reconnect; one that sees "transport
   * close" does, through the proxy, to another replica. `orderly` flushes
   * what is buffered first, but a polling session that is not polling right
   * now then waits up to 30 s for its next request (behind a timer that
   * engine.io does not clear if the connection is force-closed afterwards),
   * so close() does not wait for it.
   */
  const closeConnections = (orderly: boolean): number => {
    const open = [...connections];
    for (const connection of open) connection.close(!orderly);
    return open.length;
  };

  /** True once every engine connection has closed, false if some remain after `ms`. */
  const connectionsGone = (ms: number): Promise<boolean> =>
    new Promise((resolve) => {
      const finish = (gone: boolean) => {
        clearInterval(poll);
        clearTimeout(bound);
        resolve(gone);
      };
      const poll = setInterval(() => connections.size === 0 && finish(true), 20);
      const bound = setTimeout(() => finish(connections.size === 0), ms);
      if (connections.size === 0) finish(true);
    });

  const drain = (): Promise<void> => {
    draining ??= (async () => {
      if (phase === 'running') phase = 'draining';
      logger.info({ drainDelayMs: config.drainDelayMs, clients: io.engine.clientsCount }, 'draining: not ready, refusing new clients');
      await sleep(config.drainDelayMs, drainAbort.signal);
      const closed = closeConnections(true);
      const done = await connectionsGone(CONNECTIONS_CLOSE_BOUND_MS);
      logger.info({ closed, remaining: io.engine.clientsCount, complete: done }, 'drained: client connections closed');
    })();
    return draining;
  };

  const close = (): Promise<void> => {
    closing ??= (async () => {
      phase = 'closed';
      drainAbort.abort();
      closeConnections(false);
      // Socket.IO closes its adapters first, and the sharded adapter waits for
      // Redis to confirm unsubscribing: with Redis down that never happens.
      const ioClosed = io.close();
      if (!(await within(ioClosed, IO_CLOSE_BOUND_MS))) {
        logger.warn('socket.io did not close in time (redis down?); closing the HTTP server directly');
        io.engine.close();
        httpServer.close();
      }
      httpServer.closeAllConnections();
      await redis.close();
      await within(ioClosed, IO_CLOSE_BOUND_MS);
      logger.info('closed');
    })();
    return closing;
  };

  try {
    await listen(httpServer, config.port, config.host);
  } catch (error) {
    await close();
    throw error;
  }

  const address = () => {
    const info = httpServer.address() as AddressInfo | null;
    return { host: info?.address ?? config.host, port: info?.port ?? config.port };
  };
  logger.debug({ ...address(), config: describeConfig(config) }, 'app started');

  return {
    config,
    logger,
    httpServer,
    io,
    state: {
      get phase() {
        return phase;
      },
      get draining() {
        return phase !== 'running';
      },
      readiness,
    },
    address,
    drain,
    close,
    [Symbol.asyncDispose]: close,
  };
}
