/**
 * The one interface every scenario is written against. A topology is an
 * environment with a lifecycle (as in testcontainers): a driver's `up()`
 * returns a started handle, or tears down whatever it started and rethrows.
 */

export type TopologyKind = 'local' | 'compose' | 'swarm';
export type ProxyKind = 'haproxy' | 'nginx';
export type AdapterKind = 'redis' | 'redis-sharded' | 'redis-streams';
/** How the replicas reach Redis (server/config.ts REDIS_MODE). */
export type RedisMode = 'standalone' | 'sentinel' | 'cluster';

export interface TopologyOptions {
  kind: TopologyKind;
  proxy: ProxyKind;
  replicas: number;
  adapter: AdapterKind;
  /** Default standalone. Sentinel and Cluster: local driver only. */
  redis?: RedisMode;
  /** Extra environment for every replica (e.g. CORS_ORIGINS, RATE_LIMIT_*). */
  replicaEnv?: Readonly<Record<string, string>>;
  /** Where process logs go; the local driver writes one file per process. */
  logDir?: string;
}

export interface ReplicaEndpoint {
  /** The replica's id as it reports it in `welcome` / `whoami`. */
  id: string;
  /** Address the proxy reaches it at (what DNS answers), e.g. 127.0.1.2. */
  address: string;
  port: number;
  /** Direct URL, bypassing the proxy (health checks, metrics, raw tests). */
  url: string;
}

export interface Endpoints {
  /** Where clients connect: the proxy. */
  proxyUrl: string;
  /** Proxy statistics / admin URL when the proxy has one. */
  statsUrl?: string;
  replicas: ReplicaEndpoint[];
  /** redis:// URL of the shared Redis, when reachable from the runner. */
  redisUrl?: string;
}

export type ReplicaSignal = 'SIGKILL' | 'SIGTERM';

/** One backend server as the proxy sees it (read-only; for fault scenarios' timings). */
export interface ProxyServerState {
  /** Replica address the proxy's slot points at ("" when the slot has none). */
  address: string;
  /** Whether the proxy sends new clients there: UP, or out (DOWN, MAINT, DRAIN, …). */
  up: boolean;
  /** The proxy's own words, e.g. "DOWN 1/2", "MAINT (resolution)". */
  rawStatus: string;
}

export interface Topology extends AsyncDisposable {
  readonly kind: TopologyKind;
  readonly options: Readonly<TopologyOptions>;
  /** Current endpoints; replicas listed are the ones started and not stopped. */
  endpoints(): Endpoints;
  /** Change the replica count; resolves when the proxy routes to exactly `count` ready replicas. */
  scale(count: number): Promise<void>;
  /** Send a signal to one replica (by id) and wait for it to exit. */
  kill(replicaId: string, signal: ReplicaSignal): Promise<void>;
  /** Start a replica that was killed again, under the same id and address. */
  start(replicaId: string): Promise<void>;
  /**
   * The proxy's view of its servers, when the driver can read it (local
   * HAProxy: its stats CSV). Absent, or resolving to undefined, when the
   * proxy keeps no such state (open-source Nginx has no active health checks).
   */
  proxyServerStates?(): Promise<ProxyServerState[] | undefined>;
  /** Stop / start a dependency the replicas share. */
  stopDependency(name: 'redis'): Promise<void>;
  startDependency(name: 'redis'): Promise<void>;
  /**
   * kill -9 a Redis master (Sentinel: the current one; Cluster: the one
   * serving `key`'s slot); resolves with its host:port once it has exited.
   * Absent where the driver cannot.
   */
  killRedisMaster?(key?: string): Promise<string>;
  /** Start the Redis nodes killRedisMaster killed; resolves once they are back as replicas. */
  reviveRedisNodes?(): Promise<void>;
  /** Where Redis is, for a person (e.g. the sentinels to force a failover on from outside). */
  describeRedis?(): string;
  /** Sentinel: a switchover forced by an operator (`SENTINEL FAILOVER`); resolves with the new master. */
  forceRedisSwitchover?(): Promise<string>;
  /**
   * Cut one replica off Redis (its packets to and from Redis dropped) while
   * its clients stay connected; resolves with the function that heals it.
   * Absent where the driver cannot (local needs root for iptables).
   */
  partitionFromRedis?(replicaId: string): Promise<() => Promise<void>>;
  /** Stop everything this topology started. Idempotent. */
  down(): Promise<void>;
}

export interface TopologyDriver {
  up(options: TopologyOptions): Promise<Topology>;
}
