/**
 * The one interface every scenario is written against. A topology is an
 * environment with a lifecycle (as in testcontainers): a driver's `up()`
 * returns a started handle, or tears down whatever it started and rethrows.
 */

export type TopologyKind = 'local' | 'compose' | 'swarm' | 'k8s';
export type ProxyKind = 'haproxy' | 'nginx';
/** What Topology.kill resolves with. */
export interface KillReport {
  /** performance.now() once the signal had been delivered. */
  signalledAt: number;
}

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
  /**
   * Terminate TLS at the proxy with a throwaway CA + certificate made for the
   * run (local driver only): proxyUrl becomes https://, plain HTTP redirects.
   */
  tls?: boolean;
  /**
   * Shorter proxy idle timeouts than the deployable files' production values
   * (the idle-survival scenario). Local driver only: the Docker and k8s
   * drivers deploy the files as they are and ignore it.
   */
  proxyTimeouts?: ProxyTimeouts;
  /**
   * Local driver only: run the replicas from this compiled entry (e.g. a
   * `tsc -p tsconfig.build.json` build's server/main.js) with plain `node`,
   * as the image does, instead of server/main.ts through tsx (the benchmark
   * measures memory this way).
   */
  replicaEntry?: string;
}

/** Proxy timeouts that can cut an idle Socket.IO connection, in ms; unset ones keep the production values. */
export interface ProxyTimeouts {
  /** haproxy.cfg: timeout client / server / tunnel / http-keep-alive (WSK_TIMEOUT_*). */
  haproxy?: { clientMs?: number; serverMs?: number; tunnelMs?: number; httpKeepAliveMs?: number };
  /** nginx template: proxy_read_timeout and proxy_send_timeout (WSK_NGINX_PROXY_TIMEOUT). */
  nginxProxyMs?: number;
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
  /**
   * False when the runner cannot open sockets to the replica URLs (Swarm's
   * overlay network): scenarios then connect through the proxy only, and
   * plain GETs (/readyz, /metrics) go through Topology.httpGet.
   */
  replicasReachable?: boolean;
  /**
   * Set (to the reason) when the proxy cannot see the clients' own source
   * addresses: behind Docker's published port, Nginx sees every client as
   * the bridge gateway, so ip_hash sends them all to one replica.
   */
  clientAddressesHidden?: string;
  /** Under TLS: the plain-HTTP address of the proxy (it only redirects to proxyUrl). */
  plainProxyUrl?: string;
  /** Under TLS: the PEM of the only CA clients should trust for proxyUrl. */
  tlsCaPem?: string;
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
  /**
   * Whether the slot's last health check passed. False for a slot UP only
   * because its address just arrived from DNS (HAProxy < 3.1 starts such a
   * slot UP before its first check); absent where the proxy reports none.
   */
  checked?: boolean;
}

/** How a rolling update changes the replicas: same spec re-deployed, or a new image. */
export type RolloutChange = 'force' | 'image';

export interface RolloutReport {
  change: RolloutChange;
  /** Replica ids whose task was replaced (new container) by the update. */
  replaced: string[];
  /** From the update command to its convergence (the orchestrator's own pacing included). */
  durationMs: number;
}

/** A second proxy on the same replicas, running a variant of haproxy/haproxy.cfg (negative controls). */
export interface ProxyVariant extends AsyncDisposable {
  url: string;
  /** The proxy's process id where the runner started it (local); absent in a container. */
  readonly pid?: number | undefined;
  stop(): Promise<void>;
}

export interface Topology extends AsyncDisposable {
  readonly kind: TopologyKind;
  readonly options: Readonly<TopologyOptions>;
  /** Current endpoints; replicas listed are the ones started and not stopped. */
  endpoints(): Endpoints;
  /** Change the replica count; resolves when the proxy routes to exactly `count` ready replicas. */
  scale(count: number): Promise<void>;
  /**
   * Send a signal to one replica (by id) and wait for it to exit. Resolves
   * with when the signal had been delivered: on Docker that is a CLI call
   * after the kill started, and bounds measured from the fault (how fast
   * the proxy marks it down) start there.
   */
  kill(replicaId: string, signal: ReplicaSignal): Promise<KillReport>;
  /** Start a replica that was killed again, under the same id and address. */
  start(replicaId: string): Promise<void>;
  /**
   * The proxy's view of its servers, when the driver can read it (local
   * HAProxy: its stats CSV). Absent, or resolving to undefined, when the
   * proxy keeps no such state (open-source Nginx has no active health checks).
   */
  proxyServerStates?(): Promise<ProxyServerState[] | undefined>;
  /**
   * Start a second HAProxy in front of the same replicas, with the config
   * `transform` derives from haproxy/haproxy.cfg (e.g. without the cookie),
   * routing to every replica when it resolves. Absent where the driver
   * cannot run one.
   */
  startHaproxyVariant?(name: string, transform: (config: string) => string): Promise<ProxyVariant>;
  /**
   * Replace every replica through the orchestrator's own rolling update
   * (Swarm: `docker service update`, by the stack's update_config), then
   * wait until the proxy routes to the new set. Absent where there is none.
   */
  rollingUpdate?(change: RolloutChange): Promise<RolloutReport>;
  /**
   * GET a URL on the topology's network from inside it (a replica's /readyz
   * or /metrics), where the runner itself has no route there. Absent: the
   * runner's own fetch reaches it.
   */
  httpGet?(url: string, options?: { headers?: Readonly<Record<string, string>>; timeoutMs?: number }): Promise<{ status: number; body: string }>;
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
