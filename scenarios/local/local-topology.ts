import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ManagedProcess } from '../lib/managed-process.ts';
import { freeTcpPort, isTcpPortFreeOn } from '../lib/free-port.ts';
import { REPO_ROOT } from '../lib/repo-root.ts';
import { waitFor } from '../lib/wait-for.ts';
import type {
  Endpoints,
  KillReport,
  ProxyServerState,
  ProxyVariant,
  ReplicaEndpoint,
  ReplicaSignal,
  Topology,
  TopologyDriver,
  TopologyOptions,
} from '../topology.ts';
import { type DnsResponderHandle, startDnsResponder } from './dns-responder.ts';
import { type HaproxyHandle, haproxyEnv, startHaproxy } from './haproxy.ts';
import { type NginxHandle, startNginx } from './nginx.ts';
import { type LocalRedis, startLocalRedis } from './redis-ha.ts';
import { cutFromRedis, removePartitionRules } from './redis-partition.ts';
import { startReplicaProcess } from './replica-process.ts';
import { makeTlsMaterial, type TlsMaterial } from './tls-certs.ts';

/** The name the local DNS responder answers, standing in for Docker's `server` / `tasks.server`. */
export const LOCAL_SERVICE_NAME = 'replicas.wsk.test';
/** Replica N listens on 127.0.1.N: one address per replica, one port for all, as containers have. */
export const replicaAddress = (slot: number): string => `127.0.1.${slot}`;
/** HAProxy's server-template slots (haproxy.cfg); the local topology refuses to scale past them. */
export const MAX_LOCAL_REPLICAS = 16;
const PROXY_ROUTING_TIMEOUT_MS = 20_000;

interface LocalReplica {
  endpoint: ReplicaEndpoint;
  slot: number;
  process: ManagedProcess | undefined;
}

/** A proxy the local topology runs, whatever its kind. */
interface LocalProxy {
  url: string;
  /** The plain-HTTP address (under TLS it only redirects). */
  plainUrl: string;
  /** The proxy's (master) process id. */
  readonly pid: number | undefined;
  statsUrl?: string;
  /** Make the proxy route to exactly these replicas; resolves once it does. */
  route(addresses: readonly string[]): Promise<void>;
  /** Its servers' states, when it keeps any (HAProxy). */
  serverStates?(): Promise<ProxyServerState[]>;
  /** True when it follows DNS by itself (HAProxy); false when it must be told (Debian's Nginx). */
  followsDns: boolean;
  stop(): Promise<void>;
}

export interface LocalProcessInfo {
  role: 'replica' | 'proxy' | 'redis';
  name: string;
  pid: number;
}

export class LocalTopology implements Topology {
  readonly kind = 'local' as const;
  private readonly replicas = new Map<string, LocalReplica>();
  private proxy: LocalProxy | undefined;
  private readonly variants = new Set<ProxyVariant>();
  private downed = false;

  private constructor(
    readonly options: Readonly<TopologyOptions>,
    private readonly logDir: string,
    private readonly redis: LocalRedis,
    private readonly dns: DnsResponderHandle,
    private readonly replicaPort: number,
    private readonly cookieKey: string,
    private readonly tls: TlsMaterial | undefined,
  ) {}

  /** Bring the topology up; on any failure stop what was started and rethrow. */
  static async up(options: TopologyOptions): Promise<LocalTopology> {
    if (options.replicas < 1 || options.replicas > MAX_LOCAL_REPLICAS) {
      throw new RangeError(`replicas must be 1..${MAX_LOCAL_REPLICAS}, got ${options.replicas}`);
    }
    const logDir = options.logDir ?? (await mkdtemp(join(tmpdir(), 'wsk-local-')));
    const started: Array<{ stop(): Promise<unknown> } | { close(): Promise<unknown> }> = [];
    let topology: LocalTopology | undefined;
    try {
      const redis = await startLocalRedis(options.redis ?? 'standalone', logDir);
      started.push({ stop: () => redis.down() });
      const dns = await startDnsResponder({ records: { [LOCAL_SERVICE_NAME]: [] } });
      started.push(dns);
      const replicaPort = await pickReplicaPort();
      // A fresh CA per run, in the run's directory: nothing outside it trusts it.
      const tls = options.tls ? await makeTlsMaterial(join(logDir, 'tls')) : undefined;
      topology = new LocalTopology(options, logDir, redis, dns, replicaPort, randomBytes(24).toString('base64url'), tls);
      await topology.scaleReplicas(options.replicas, false);
      topology.proxy = await topology.startProxy();
      await topology.proxy.route(topology.liveAddresses());
      return topology;
    } catch (error) {
      if (topology) await topology.down();
      else await Promise.allSettled(started.map((item) => ('stop' in item ? item.stop() : item.close())));
      throw error;
    }
  }

  endpoints(): Endpoints {
    if (!this.proxy) throw new Error('local topology is not up');
    return {
      proxyUrl: this.proxy.url,
      ...(this.proxy.statsUrl ? { statsUrl: this.proxy.statsUrl } : {}),
      replicas: [...this.replicas.values()].filter((r) => r.process?.running).map((r) => r.endpoint),
      redisUrl: this.redis.url,
      ...(this.tls ? { plainProxyUrl: this.proxy.plainUrl, tlsCaPem: this.tls.caPem } : {}),
    };
  }

  async scale(count: number): Promise<void> {
    if (count < 1 || count > MAX_LOCAL_REPLICAS) {
      throw new RangeError(`replicas must be 1..${MAX_LOCAL_REPLICAS}, got ${count}`);
    }
    await this.scaleReplicas(count, true);
  }

  async kill(replicaId: string, signal: ReplicaSignal): Promise<KillReport> {
    const replica = this.requireReplica(replicaId);
    const child = replica.process;
    if (!child?.running) throw new Error(`${replicaId} is not running`);
    child.signal(signal);
    const signalledAt = performance.now();
    // A stopped container leaves Docker's DNS; mirror that once the process is gone.
    await child.exited;
    await this.publishDns();
    // Nginx >= 1.27.3 would drop it on re-resolving; Debian's 1.22 is told (the server stays as `down`).
    if (this.proxy && !this.proxy.followsDns) await this.proxy.route(this.liveAddresses());
    return { signalledAt };
  }

  async proxyServerStates(): Promise<ProxyServerState[] | undefined> {
    return this.proxy?.serverStates?.();
  }

  async start(replicaId: string): Promise<void> {
    const replica = this.requireReplica(replicaId);
    if (replica.process?.running) throw new Error(`${replicaId} is already running`);
    await this.startReplica(replica);
    await this.publishDns();
    await this.proxy?.route(this.liveAddresses());
  }

  async killRedisMaster(key?: string): Promise<string> {
    return this.redis.killMaster(key);
  }

  async reviveRedisNodes(): Promise<void> {
    await this.redis.reviveKilled();
  }

  describeRedis(): string {
    const env = this.redis.replicaEnv;
    if (this.redis.mode === 'sentinel') return `sentinel: sentinels ${env.REDIS_SENTINELS}, master name ${env.REDIS_SENTINEL_MASTER}`;
    if (this.redis.mode === 'cluster') return `cluster: nodes ${env.REDIS_CLUSTER_NODES}`;
    return `standalone: ${this.redis.url}`;
  }

  async forceRedisSwitchover(): Promise<string> {
    if (!this.redis.switchover) throw new Error(`a forced switchover needs --redis sentinel (this topology runs ${this.redis.mode})`);
    return this.redis.switchover();
  }

  async partitionFromRedis(replicaId: string): Promise<() => Promise<void>> {
    const pid = this.requireReplica(replicaId).process?.pid;
    if (pid === undefined) throw new Error(`${replicaId} is not running`);
    return cutFromRedis(pid, this.redis.dataPorts());
  }

  async stopDependency(name: 'redis'): Promise<void> {
    if (name !== 'redis') throw new Error(`unknown dependency ${name}`);
    await this.redis.stop();
  }

  async startDependency(name: 'redis'): Promise<void> {
    if (name !== 'redis') throw new Error(`unknown dependency ${name}`);
    await this.redis.start();
  }

  /**
   * A second HAProxy on the same replicas and DNS, running a config derived
   * from haproxy/haproxy.cfg by `transform` (the negative control: no cookie).
   */
  async startHaproxyVariant(name: string, transform: (config: string) => string): Promise<ProxyVariant> {
    if (this.options.proxy !== 'haproxy') throw new Error('proxy variants need --proxy haproxy');
    const configPath = join(this.logDir, `haproxy-${name}.cfg`);
    await writeFile(configPath, transform(await readFile(join(REPO_ROOT, 'haproxy/haproxy.cfg'), 'utf8')));
    const handle = await startHaproxy({
      configPath,
      env: await this.haproxyEnvironment(),
      logFile: join(this.logDir, `haproxy-${name}.log`),
    });
    await waitForHaproxyRouting(handle, this.liveAddresses());
    const variant: ProxyVariant = {
      url: handle.url,
      pid: handle.process.pid,
      stop: async () => {
        this.variants.delete(variant);
        await handle.stop();
      },
      [Symbol.asyncDispose]: () => variant.stop(),
    };
    this.variants.add(variant);
    return variant;
  }

  /**
   * The running processes of the topology with their pids (read-only), so the
   * benchmark can read each one's CPU time and memory from /proc. Nginx is
   * its master; its workers are the master's children.
   */
  processes(): LocalProcessInfo[] {
    const out: LocalProcessInfo[] = [];
    for (const replica of this.replicas.values()) {
      const pid = replica.process?.running ? replica.process.pid : undefined;
      if (pid !== undefined) out.push({ role: 'replica', name: replica.endpoint.id, pid });
    }
    if (this.proxy?.pid !== undefined) out.push({ role: 'proxy', name: this.options.proxy, pid: this.proxy.pid });
    for (const node of this.redis.processes()) out.push({ role: 'redis', ...node });
    return out;
  }

  /** Where each process's log is, for a failing run's report. */
  get logDirectory(): string {
    return this.logDir;
  }

  async down(): Promise<void> {
    if (this.downed) return;
    this.downed = true;
    await Promise.allSettled([...this.variants].map((variant) => variant.stop()));
    await this.proxy?.stop().catch(() => undefined);
    await Promise.allSettled([...this.replicas.values()].map((replica) => replica.process?.stop(3000)));
    await Promise.allSettled([this.redis.down(), this.dns.close(), removePartitionRules()]);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.down();
  }

  private requireReplica(replicaId: string): LocalReplica {
    const replica = this.replicas.get(replicaId);
    if (!replica) throw new Error(`no replica ${replicaId}; known: ${[...this.replicas.keys()].join(', ')}`);
    return replica;
  }

  private liveAddresses(): string[] {
    return [...this.replicas.values()].filter((r) => r.process?.running).map((r) => r.endpoint.address);
  }

  private async publishDns(): Promise<void> {
    this.dns.setRecords(LOCAL_SERVICE_NAME, this.liveAddresses());
  }

  private replicaEnv(): Record<string, string> {
    return {
      ...this.redis.replicaEnv,
      ADAPTER: this.options.adapter,
      LOG_LEVEL: process.env.WSK_REPLICA_LOG_LEVEL ?? 'info',
      ...this.options.replicaEnv,
    };
  }

  private async startReplica(replica: LocalReplica): Promise<void> {
    replica.process = await startReplicaProcess({
      id: replica.endpoint.id,
      address: replica.endpoint.address,
      port: this.replicaPort,
      env: this.replicaEnv(),
      logFile: join(this.logDir, `${replica.endpoint.id}.log`),
      ...(this.options.replicaEntry ? { entry: this.options.replicaEntry } : {}),
    });
  }

  /**
   * Converge on `count` running replicas: start the missing lowest slots,
   * stop the highest ones with SIGTERM (a graceful drain, as `docker compose
   * up --scale` and Swarm do). Removed replicas leave DNS before they stop so
   * the proxy stops sending them new clients.
   */
  private async scaleReplicas(count: number, route: boolean): Promise<void> {
    const running = [...this.replicas.values()].filter((r) => r.process?.running).sort((a, b) => a.slot - b.slot);
    if (running.length < count) {
      const toStart: LocalReplica[] = [];
      for (let slot = 1; toStart.length < count - running.length && slot <= MAX_LOCAL_REPLICAS; slot++) {
        const id = `replica-${slot}`;
        const existing = this.replicas.get(id);
        if (existing?.process?.running) continue;
        const address = replicaAddress(slot);
        const replica = existing ?? {
          slot,
          process: undefined,
          endpoint: { id, address, port: this.replicaPort, url: `http://${address}:${this.replicaPort}` },
        };
        this.replicas.set(id, replica);
        toStart.push(replica);
      }
      // Settle every start before failing: down() stops only replicas whose
      // start has returned, so one still starting would outlive the teardown.
      const starts = await Promise.allSettled(toStart.map((replica) => this.startReplica(replica)));
      const failed = starts.find((start): start is PromiseRejectedResult => start.status === 'rejected');
      if (failed) throw failed.reason;
    } else if (running.length > count) {
      const toStop = running.slice(count);
      const keep = new Set(running.slice(0, count).map((r) => r.endpoint.address));
      this.dns.setRecords(LOCAL_SERVICE_NAME, [...keep]);
      await Promise.all(toStop.map((replica) => replica.process?.stop(15_000)));
    }
    await this.publishDns();
    if (route) await this.proxy?.route(this.liveAddresses());
  }

  private async haproxyEnvironment(): Promise<Record<string, string>> {
    return haproxyEnv({
      proxyBind: `127.0.0.1:${await freeTcpPort()}`,
      statsBind: `127.0.0.1:${await freeTcpPort()}`,
      dnsNameserver: this.dns.nameserver,
      serviceName: LOCAL_SERVICE_NAME,
      serverPort: this.replicaPort,
      cookieKey: this.cookieKey,
      ...(this.tls ? { tls: { bind: `127.0.0.1:${await freeTcpPort()}`, pemPath: this.tls.serverPemPath } } : {}),
      ...(this.options.proxyTimeouts?.haproxy ? { timeouts: this.options.proxyTimeouts.haproxy } : {}),
    });
  }

  private async startProxy(): Promise<LocalProxy> {
    if (this.options.proxy === 'haproxy') {
      const handle: HaproxyHandle = await startHaproxy({
        configPath: join(REPO_ROOT, 'haproxy/haproxy.cfg'),
        env: await this.haproxyEnvironment(),
        logFile: join(this.logDir, 'haproxy.log'),
      });
      const { user, password } = handle.statsAuth;
      return {
        url: handle.url,
        plainUrl: handle.plainUrl,
        pid: handle.process.pid,
        // Credentials in the URL so a person can paste it into curl or a browser.
        statsUrl: handle.statsUrl.replace('://', `://${encodeURIComponent(user)}:${encodeURIComponent(password)}@`),
        route: (addresses) => waitForHaproxyRouting(handle, addresses),
        followsDns: true,
        serverStates: async () =>
          (await handle.serverStates()).map((state) => ({
            address: state.address.split(':')[0] ?? '',
            up: state.status === 'UP',
            rawStatus: state.rawStatus,
          })),
        stop: () => handle.stop(),
      };
    }
    const port = await freeTcpPort();
    const tlsPort = this.tls ? await freeTcpPort() : undefined;
    const handle: NginxHandle = await startNginx({
      listen: `127.0.0.1:${port}`,
      ...(this.tls && tlsPort ? { tls: { listen: `127.0.0.1:${tlsPort}`, pemPath: this.tls.serverPemPath, redirectPort: tlsPort } } : {}),
      upstreams: this.liveAddresses().map((address) => `${address}:${this.replicaPort}`),
      workDir: await mkdtemp(join(this.logDir, 'nginx-')),
      logFile: join(this.logDir, 'nginx.log'),
      ...(this.options.proxyTimeouts?.nginxProxyMs ? { proxyTimeout: `${this.options.proxyTimeouts.nginxProxyMs}ms` } : {}),
    });
    return {
      url: handle.url,
      plainUrl: handle.plainUrl,
      pid: handle.process.pid,
      // Debian's nginx 1.22 cannot re-resolve upstream names: re-render and reload.
      route: (addresses) => handle.setUpstreams(addresses.map((address) => `${address}:${this.replicaPort}`)),
      followsDns: false,
      stop: () => handle.stop(),
    };
  }
}

/** Wait until HAProxy has exactly `addresses` UP (new ones found through DNS, removed ones gone). */
async function waitForHaproxyRouting(handle: HaproxyHandle, addresses: readonly string[]): Promise<void> {
  const wanted = [...addresses].sort().join(',');
  await waitFor(
    async () => {
      const states = await handle.serverStates();
      const up = states
        .filter((state) => state.status === 'UP')
        .map((state) => state.address.split(':')[0]!)
        .sort()
        .join(',');
      // Thrown, not returned, so the timeout error carries what was last seen.
      if (up !== wanted) throw new Error(`HAProxy has UP: [${up}]`);
      return true;
    },
    { what: `HAProxy to route to exactly [${wanted}]`, timeoutMs: PROXY_ROUTING_TIMEOUT_MS, intervalMs: 200 },
  );
}

/** One port free on every replica address we may use (they all share it, as containers do). */
async function pickReplicaPort(): Promise<number> {
  const addresses = Array.from({ length: MAX_LOCAL_REPLICAS }, (_, i) => replicaAddress(i + 1));
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await freeTcpPort(addresses[0]);
    if (await isTcpPortFreeOn(port, addresses)) return port;
  }
  throw new Error('could not find a TCP port free on every 127.0.1.x replica address after 20 tries');
}

export const localDriver: TopologyDriver = { up: (options) => LocalTopology.up(options) };
