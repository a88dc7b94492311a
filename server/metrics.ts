import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { FanoutTally } from './fanout-tally.ts';
import type { Routes } from './http-router.ts';
import { LabelTally } from './label-tally.ts';
import { CLIENT_EVENTS, type ReadyReply, type ServerToClientEvents } from './protocol.ts';
import type { ReplicaServer, ReplicaSocket } from './socket-types.ts';

/** What the metrics read from a running app (a subset of AppHandle, so tests can fake it). */
export interface MetricsSource {
  readonly io: ReplicaServer;
  readonly state: { readiness(): ReadyReply };
}

export interface ReplicaMetrics {
  /** This replica's own registry (never prom-client's global one: two apps in one process must not clash). */
  readonly registry: Registry;
  /** `GET /metrics` in Prometheus' text format, for AppDeps.routes. */
  readonly routes: Routes;
  /** For AppDeps.onRedisCommandError: a failed Redis command (e.g. an adapter PUBLISH during an outage). */
  onRedisCommandError(connection: string, command: string, error: unknown): void;
  /** Start counting this app's traffic; call once, right after createApp. */
  attach(app: MetricsSource): void;
}

/** Every metric name this module exports, for docs and tests. */
export const METRIC_NAMES = {
  connectedClients: 'wsk_connected_clients',
  connections: 'wsk_connections_total',
  disconnections: 'wsk_disconnections_total',
  eventsReceived: 'wsk_events_received_total',
  eventsSent: 'wsk_events_sent_total',
  broadcastDeliveries: 'wsk_broadcast_deliveries_total',
  broadcastFanout: 'wsk_broadcast_fanout',
  redisCommandErrors: 'wsk_redis_command_errors_total',
  adapterPublishErrors: 'wsk_adapter_publish_errors_total',
  redisConnectionUp: 'wsk_redis_connection_up',
  ready: 'wsk_ready',
  draining: 'wsk_draining',
  engineConnectionErrors: 'wsk_engine_connection_errors_total',
} as const;

/**
 * Engine.IO's connection_error codes (engine.io Server.errors). 1, "Session
 * ID unknown", is a request for a session this replica never opened: behind
 * a proxy, broken affinity. 4 includes this app's own handshake refusals
 * (Origin, authentication, draining, Redis down), which engine.io reports so.
 */
export const ENGINE_ERROR_CODES: Readonly<Record<string, string>> = {
  '0': 'Transport unknown',
  '1': 'Session ID unknown',
  '2': 'Bad handshake method',
  '3': 'Bad request',
  '4': 'Forbidden',
  '5': 'Unsupported protocol version',
};

/** Messages that go to many clients at once (through the adapter, to every replica). */
const FANOUT_EVENTS: ReadonlySet<string> = new Set<keyof ServerToClientEvents>(['broadcast', 'room:message']);
const SENT_EVENTS: ReadonlySet<string> = new Set<keyof ServerToClientEvents>([
  'welcome',
  'broadcast',
  'room:message',
  'error:event',
]);
/**
 * The node-redis methods the adapters publish cluster messages with (pub/sub,
 * sharded pub/sub, streams). One that fails is a message the other replicas
 * never get: the adapters log it at debug level and go on.
 */
const PUBLISH_COMMANDS: ReadonlySet<string> = new Set(['publish', 'PUBLISH', 'sPublish', 'SPUBLISH', 'xAdd', 'XADD']);
const RECEIVED_EVENTS: ReadonlySet<string> = new Set<string>(CLIENT_EVENTS);
/** Engine.io / Socket.IO disconnect reasons are a fixed set; anything else is folded so labels stay bounded. */
const DISCONNECT_REASONS: ReadonlySet<string> = new Set([
  'transport close',
  'transport error',
  'ping timeout',
  'parse error',
  'forced close',
  'forced server close',
  'server namespace disconnect',
  'client namespace disconnect',
  'server shutting down',
]);

/** Labels come from clients; only known names become label values, so a hostile client cannot blow up cardinality. */
const labelFor = (known: ReadonlySet<string>, value: unknown, other: string): string =>
  typeof value === 'string' && known.has(value) ? value : other;

/**
 * Prometheus metrics of one replica, labelled `replica`: connected clients,
 * events in and out, broadcast fan-out, Redis health, readiness, and Node's
 * process metrics. Counting happens on public Socket.IO hooks (`onAny`,
 * `onAnyOutgoing`), so every message path is seen, including broadcasts that
 * arrive from other replicas through the adapter.
 */
export function createMetrics({ replica }: { replica: string }): ReplicaMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ replica });
  collectDefaultMetrics({ register: registry });

  let source: MetricsSource | undefined;
  const registers = [registry];

  new Gauge({
    name: METRIC_NAMES.connectedClients,
    help: 'Socket.IO clients connected to this replica now, by current transport',
    labelNames: ['transport'],
    registers,
    collect() {
      this.reset();
      if (!source) return;
      const counts = new Map<string, number>([
        ['polling', 0],
        ['websocket', 0],
      ]);
      for (const socket of source.io.of('/').sockets.values()) {
        const name = socket.conn.transport.name;
        counts.set(name, (counts.get(name) ?? 0) + 1);
      }
      for (const [transport, count] of counts) this.set({ transport }, count);
    },
  });
  const connections = new Counter({
    name: METRIC_NAMES.connections,
    help: 'Socket.IO connections accepted by this replica',
    registers,
  });
  const disconnections = new Counter({
    name: METRIC_NAMES.disconnections,
    help: 'Socket.IO disconnections, by reason',
    labelNames: ['reason'],
    registers,
  });
  const eventsReceived = new Counter({
    name: METRIC_NAMES.eventsReceived,
    help: 'Events received from clients, by name ("unknown" for names outside the protocol)',
    labelNames: ['event'],
    registers,
  });
  // The two per-recipient counters are tallied in plain integers and handed
  // to prom-client when scraped (see LabelTally): they are bumped once per
  // recipient of every broadcast, the replica's hottest path.
  const sentTally = new LabelTally();
  const deliveryTally = new LabelTally();
  new Counter({
    name: METRIC_NAMES.eventsSent,
    help: 'Events this replica wrote to one of its clients (one per recipient; acks not included), by name',
    labelNames: ['event'],
    registers,
    collect() {
      sentTally.drain((event, n) => this.inc({ event }, n));
    },
  });
  new Counter({
    name: METRIC_NAMES.broadcastDeliveries,
    help: 'Cluster-wide messages (broadcast, room:message) delivered to clients of this replica, one per recipient',
    labelNames: ['event'],
    registers,
    collect() {
      deliveryTally.drain((event, n) => this.inc({ event }, n));
    },
  });
  const fanout = new Histogram({
    name: METRIC_NAMES.broadcastFanout,
    help: 'Clients of this replica that one cluster-wide message reached (messages reaching none are not observed)',
    labelNames: ['event'],
    buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000],
    registers,
  });
  const redisErrors = new Counter({
    name: METRIC_NAMES.redisCommandErrors,
    help: 'Failed Redis commands (e.g. reads and publishes cut by a Redis outage), by connection and node-redis method',
    labelNames: ['connection', 'command'],
    registers,
  });
  const publishErrors = new Counter({
    name: METRIC_NAMES.adapterPublishErrors,
    help: 'Cluster messages (broadcasts, room emits, requests) whose publish to Redis failed: the other replicas never got them',
    registers,
  });
  const engineErrors = new Counter({
    name: METRIC_NAMES.engineConnectionErrors,
    help: 'Engine.IO requests refused, by engine.io error code (1 = Session ID unknown: affinity broken; 4 = forbidden, includes handshake refusals)',
    labelNames: ['code'],
    registers,
  });
  // Every code present from the start, at 0: a rate() over a series that
  // appears only with its first error misses that first increase.
  for (const code of Object.keys(ENGINE_ERROR_CODES)) engineErrors.inc({ code }, 0);
  new Gauge({
    name: METRIC_NAMES.redisConnectionUp,
    help: '1 while the Redis connection is ready and answers PING, 0 while connecting, reconnecting, unresponsive or closed',
    labelNames: ['connection'],
    registers,
    collect() {
      this.reset();
      if (!source) return;
      for (const [connection, state] of Object.entries(source.state.readiness().redis)) {
        this.set({ connection }, state === 'ready' ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: METRIC_NAMES.ready,
    help: '1 while /readyz answers 200 (Redis ready, not draining)',
    registers,
    collect() {
      this.set(source?.state.readiness().status === 'ready' ? 1 : 0);
    },
  });
  new Gauge({
    name: METRIC_NAMES.draining,
    help: '1 once a drain (SIGTERM) has started',
    registers,
    collect() {
      this.set(source?.state.readiness().draining ? 1 : 0);
    },
  });

  const fanoutTally = new FanoutTally((event, count) => fanout.observe({ event }, count));

  const instrumented = new WeakSet<ReplicaSocket>();
  const instrument = (socket: ReplicaSocket) => {
    if (instrumented.has(socket)) return;
    instrumented.add(socket);
    socket.onAny((event: unknown) => eventsReceived.inc({ event: labelFor(RECEIVED_EVENTS, event, 'unknown') }));
    // Called for socket.emit and for every local recipient of a broadcast,
    // whichever replica the broadcast came from.
    socket.onAnyOutgoing((event: unknown, message: unknown) => {
      const name = labelFor(SENT_EVENTS, event, 'other');
      sentTally.add(name);
      if (FANOUT_EVENTS.has(name)) {
        deliveryTally.add(name);
        fanoutTally.count(name, message);
      }
    });
  };
  const onConnection = (socket: ReplicaSocket) => {
    instrument(socket);
    connections.inc();
    socket.once('disconnect', (reason: string) => disconnections.inc({ reason: labelFor(DISCONNECT_REASONS, reason, 'other') }));
  };

  return {
    registry,
    routes: {
      '/metrics': (req, res) => {
        if (req.method !== 'GET' && req.method !== 'HEAD') {
          res.writeHead(405, { allow: 'GET, HEAD' }).end();
          return;
        }
        registry.metrics().then(
          (text) => {
            res.writeHead(200, {
              'content-type': registry.contentType,
              'content-length': Buffer.byteLength(text),
              'cache-control': 'no-store',
            });
            res.end(req.method === 'HEAD' ? undefined : text);
          },
          (error: unknown) => {
            res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
            res.end(`metrics collection failed: ${error instanceof Error ? error.message : String(error)}\n`);
          },
        );
      },
    },
    onRedisCommandError(connection, command) {
      // Method names come from the adapters' code; anything unexpected is folded so labels stay bounded.
      redisErrors.inc({ connection, command: /^[A-Za-z]{1,32}$/.test(command) ? command : 'other' });
      if (PUBLISH_COMMANDS.has(command)) publishErrors.inc();
    },
    attach(app) {
      if (source) throw new Error('metrics are already attached to an app');
      source = app;
      // A middleware, the last one: it runs before the 'connection' listeners
      // (the protocol's `welcome` is sent there) and only for sockets that
      // every earlier middleware (authentication) let through.
      app.io.use((socket, next) => {
        instrument(socket);
        next();
      });
      app.io.on('connection', onConnection);
      // The code comes from engine.io; anything outside its fixed set is folded so labels stay bounded.
      app.io.engine.on('connection_error', (error: { code?: unknown }) => {
        const code = String(error.code);
        engineErrors.inc({ code: Object.hasOwn(ENGINE_ERROR_CODES, code) ? code : 'other' });
      });
      // Sockets that connected before attach() (there should be none).
      for (const socket of app.io.of('/').sockets.values()) onConnection(socket);
    },
  };
}
