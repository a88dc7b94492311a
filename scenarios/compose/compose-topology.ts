import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createExecRunner, type DockerRunner, runChecked } from '../docker/docker-runner.ts';
import { requireComposePlugin, requireDockerEngine } from '../docker/engine-check.ts';
import { DOCKER_STATS_PORT, fetchStatsCsv, type HaproxyStatsSource, proxyStatesFromCsv, statsUrlWithCredentials } from '../docker/haproxy-stats.ts';
import { type RoutingProbe, waitForProxyRouting } from '../docker/proxy-routing.ts';
import { randomSecret, uniqueRunName } from '../docker/run-names.ts';
import { registerAddressPlan } from '../lib/client-address.ts';
import { checkDependency, checkReplicaCount, MAX_TEMPLATE_REPLICAS, saveLogs, upOrTearDown, writeOverrideFile } from '../container/driver-kit.ts';
import { freeTcpPort } from '../lib/free-port.ts';
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
import {
  type ComposeProject,
  downArgs,
  inspectArgs,
  killContainerArgs,
  logsArgs,
  containerPortArgs,
  HAPROXY_SERVICE,
  networkInspectArgs,
  PROXY_CONTAINER_PORT,
  projectNetwork,
  portArgs,
  psArgs,
  removeContainerArgs,
  runProxyVariantArgs,
  SERVER_PORT,
  SERVER_SERVICE,
  scaleArgs,
  startContainerArgs,
  startServiceArgs,
  stopServiceArgs,
  upArgs,
  waitContainerArgs,
} from './compose-commands.ts';
import { bridgeAddressPlan, type IpRunner, ipBatch, parseBridgeNetwork, runIpBatch } from './bridge-clients.ts';
import {
  currentMaster,
  type DataNodeService,
  forceSwitchover,
  type RedisCli,
  redisCliExecArgs,
  SENTINEL_MASTER_NAME,
  SENTINEL_OVERRIDE_FILE,
  SENTINEL_PORT,
  SENTINEL_SERVICES,
  waitForSyncedReplica,
} from '../container/sentinel-nodes.ts';
import { type ComposeContainer, type ContainerDetails, containerAddress, parseComposePs, parseContainerInspect, parsePublishedPort, sameContainer } from './compose-ps.ts';

/** Tag the runner builds the replica image under. */
export const COMPOSE_SERVER_IMAGE = 'wsk-server:local';
/** haproxy.cfg has 16 server-template slots; replicas beyond them would get no traffic. */
export const MAX_COMPOSE_REPLICAS = MAX_TEMPLATE_REPLICAS;

export interface ComposeTimeouts {
  /** First `up`, which may build the image. */
  upMs: number;
  scaleMs: number;
  /** Any other docker command. */
  commandMs: number;
  /** Until the proxy routes to exactly the expected replicas. */
  routingMs: number;
  /** Until a (re)started container reports healthy. */
  healthMs: number;
}

export const DEFAULT_COMPOSE_TIMEOUTS: Readonly<ComposeTimeouts> = Object.freeze({
  upMs: 10 * 60_000,
  scaleMs: 5 * 60_000,
  commandMs: 2 * 60_000,
  routingMs: 60_000,
  healthMs: 60_000,
});

export interface ComposeDriverOptions {
  /** Runs `docker`; default: the real CLI on PATH. */
  runner?: DockerRunner;
  /** Directory holding docker-compose.yml (the project directory). */
  projectDir?: string;
  composeFile?: string;
  /** How to wait for the proxy to route to the replicas; default: connect through it. */
  routingProbe?: RoutingProbe;
  /** Compose project name for a run; default `wsk-<time>-<random>`. */
  projectName?: () => string;
  /** Reads HAProxy's stats CSV; default: GET it from the host, which reaches Compose's bridge network. */
  statsFetch?: (source: HaproxyStatsSource) => Promise<string>;
  /** Adds / removes host addresses (`ip -batch`); default: the real `ip`. */
  ipRunner?: IpRunner;
  /** Whether the runner may add addresses to the project's bridge; default: running as root. */
  canAddAddresses?: boolean;
  /** A free host port for a proxy; default: ask the kernel. */
  freePort?: () => Promise<number>;
  timeouts?: Partial<ComposeTimeouts>;
}

interface Resolved {
  runner: DockerRunner;
  projectDir: string;
  composeFile: string;
  routingProbe: RoutingProbe;
  projectName: () => string;
  statsFetch: (source: HaproxyStatsSource) => Promise<string>;
  ipRunner: IpRunner;
  canAddAddresses: boolean;
  freePort: () => Promise<number>;
  timeouts: ComposeTimeouts;
}

/**
 * The environment every compose command of one run gets: fresh secrets (the
 * file has no defaults for them), free host ports, and no restart policy so a
 * killed replica stays down until the scenario starts it.
 */
export function composeRunEnv(
  options: Pick<TopologyOptions, 'adapter'>,
  ports: { haproxy: number; nginx: number },
  secret: () => string = randomSecret,
): Record<string, string> {
  return {
    REDIS_PASSWORD: secret(),
    WSK_COOKIE_KEY: secret(),
    WSK_STATS_USER: 'admin',
    WSK_STATS_PASSWORD: secret(),
    // Required file-wide by the observability profile's Grafana, which the
    // runner does not start.
    WSK_GRAFANA_ADMIN_PASSWORD: secret(),
    WSK_HAPROXY_PORT: String(ports.haproxy),
    WSK_NGINX_PORT: String(ports.nginx),
    ADAPTER: options.adapter,
    WSK_RESTART_POLICY: 'no',
    // Explicit, so a WSK_SERVER_IMAGE in the user's .env (a registry tag)
    // is never overwritten by the runner's `up --build`.
    WSK_SERVER_IMAGE: COMPOSE_SERVER_IMAGE,
  };
}

/**
 * The run's override file (JSON is YAML): extra replica environment, which
 * the base file cannot take from variables without listing every name.
 * Undefined when there is nothing to override.
 */
export function composeOverride(replicaEnv: Readonly<Record<string, string>> | undefined): object | undefined {
  if (!replicaEnv || Object.keys(replicaEnv).length === 0) return undefined;
  return { services: { [SERVER_SERVICE]: { environment: { ...replicaEnv } } } };
}

/**
 * `-f` files in order: docker-compose.yml, the Sentinel override beside it
 * when asked, then the run's own override (the last one wins).
 */
export function composeFiles(
  config: Pick<Resolved, 'composeFile'>,
  redis: NonNullable<TopologyOptions['redis']>,
  runOverride: string | undefined,
): string[] {
  return [
    config.composeFile,
    ...(redis === 'sentinel' ? [join(dirname(config.composeFile), SENTINEL_OVERRIDE_FILE)] : []),
    ...(runOverride ? [runOverride] : []),
  ];
}

export class ComposeTopology implements Topology {
  readonly kind = 'compose' as const;
  private current: Endpoints = { proxyUrl: '', replicas: [] };
  /** Replica id (container hostname) → container id, for every replica seen, killed ones included. */
  private readonly containers = new Map<string, string>();
  private downed = false;
  /** Data-node services killRedisMaster killed and reviveRedisNodes has not started again. */
  private readonly killedRedis = new Set<DataNodeService>();
  /** HAProxy's stats listener on the project network (found once by up()). */
  private stats: HaproxyStatsSource | undefined;
  /** The project's HAProxy container as created: image and environment, for variants. */
  private haproxy: ContainerDetails | undefined;
  /** Names of variant proxy containers still running. */
  private readonly variants = new Set<string>();
  /** Nginx reached on the bridge from per-client host addresses (see bridge-clients.ts). */
  private bridgeClients: { url: string; device: string; addresses: string[]; unregister: () => void } | undefined;
  /** Why Nginx cannot see the clients' own addresses, when it cannot. */
  private addressesHidden: string | undefined;

  constructor(
    readonly options: Readonly<TopologyOptions>,
    readonly project: ComposeProject,
    private readonly env: Readonly<Record<string, string>>,
    private readonly config: Resolved,
    private readonly workDir: string,
  ) {}

  endpoints(): Endpoints {
    return structuredClone(this.current);
  }

  /** Bring the stack up; the driver calls this once, before handing the topology out. */
  async up(): Promise<void> {
    await this.docker(upArgs(this.project, this.options.replicas), this.config.timeouts.upMs);
    this.stats = await this.locateStats();
    if (this.options.proxy === 'nginx') await this.setUpBridgeClients();
    await this.refresh();
    await this.waitForRouting();
  }

  /**
   * Test clients Nginx can tell apart: host addresses in distinct /24s of
   * the project's bridge, connecting straight to the Nginx container (its
   * published port would show Nginx one address for all of them).
   */
  private async setUpBridgeClients(): Promise<void> {
    const published = "Docker's published port rewrites every client's address to the bridge gateway before Nginx sees it";
    if (!this.config.canAddAddresses) {
      this.addressesHidden = `${published} (adding client addresses to the bridge needs root)`;
      return;
    }
    const network = parseBridgeNetwork(await this.docker(networkInspectArgs(projectNetwork(this.project))));
    const plan = bridgeAddressPlan(network.subnet);
    const [nginx] = (await this.ps('nginx')).filter((container) => container.state === 'running');
    const [detail] = nginx ? parseContainerInspect(await this.docker(inspectArgs([nginx.id]))) : [];
    const address = detail ? containerAddress(detail, projectNetwork(this.project)) : undefined;
    if (!plan || !address) {
      this.addressesHidden = `${published} (subnet ${network.subnet} has no second /24 for client addresses, or Nginx has no address)`;
      return;
    }
    const { addresses } = plan;
    await this.config.ipRunner(ipBatch('add', addresses, network.device));
    const url = `http://${address}:${PROXY_CONTAINER_PORT.nginx}`;
    this.bridgeClients = { url, device: network.device, addresses, unregister: registerAddressPlan(url, plan.address) };
  }

  private async tearDownBridgeClients(): Promise<void> {
    const clients = this.bridgeClients;
    if (!clients) return;
    this.bridgeClients = undefined;
    clients.unregister();
    await this.config.ipRunner(ipBatch('del', clients.addresses, clients.device));
  }

  /**
   * HAProxy's slots as its stats CSV shows them. The listener is not
   * published (docker-compose.yml keeps it internal); the runner reaches the
   * HAProxy container's own address on the project's bridge network, as it
   * reaches the replicas (Linux hosts route to their bridges; Docker
   * Desktop's VM does not, and there this reports no states).
   */
  async proxyServerStates(): Promise<ProxyServerState[] | undefined> {
    // Behind Nginx the clients' proxy keeps no such state; HAProxy's (it runs in every profile) would mislead.
    if (!this.stats || this.options.proxy !== 'haproxy') return undefined;
    return proxyStatesFromCsv(await this.config.statsFetch(this.stats));
  }

  async scale(count: number): Promise<void> {
    checkReplicaCount(count);
    await this.docker(scaleArgs(this.project, count), this.config.timeouts.scaleMs);
    await this.refresh();
    if (this.current.replicas.length !== count) {
      throw new Error(`scaled to ${count} but ${this.current.replicas.length} replicas are running`);
    }
    await this.waitForRouting();
  }

  async kill(replicaId: string, signal: ReplicaSignal): Promise<KillReport> {
    const containerId = this.containerOf(replicaId);
    await this.docker(killContainerArgs(containerId, signal));
    const signalledAt = performance.now();
    // `docker wait` returns once the container has stopped (SIGTERM: after the replica's drain).
    await this.docker(waitContainerArgs(containerId));
    await this.refresh();
    return { signalledAt };
  }

  async start(replicaId: string): Promise<void> {
    const containerId = this.containerOf(replicaId);
    await this.docker(startContainerArgs(containerId));
    await this.waitHealthy(SERVER_SERVICE, (container) => sameContainer(container.id, containerId));
    await this.refresh();
    await this.waitForRouting();
  }

  async stopDependency(name: 'redis'): Promise<void> {
    this.requireStandalone();
    await this.docker(stopServiceArgs(this.project, checkDependency(name)));
  }

  async startDependency(name: 'redis'): Promise<void> {
    this.requireStandalone();
    const service = checkDependency(name);
    await this.docker(startServiceArgs(this.project, service));
    await this.waitHealthy(service, () => true);
  }

  private requireStandalone(): void {
    if ((this.options.redis ?? 'standalone') !== 'standalone') {
      throw new Error('a full Redis outage is the standalone case; the Sentinel variant fails over instead (killRedisMaster)');
    }
  }

  private requireSentinel(): void {
    if (this.options.redis !== 'sentinel') throw new Error(`needs --redis sentinel (this compose project runs ${this.options.redis ?? 'standalone'})`);
  }

  /** `redis-cli` in a running container of `service`, authenticated with the run's password. */
  private readonly cli: RedisCli = async (service, port, command) => {
    const [container] = (await this.ps(service)).filter((c) => c.state === 'running');
    if (!container) throw new Error(`no running ${service} container in compose project ${this.project.name}`);
    return runChecked(this.config.runner, redisCliExecArgs(container.id, port, command), {
      env: { ...this.env, REDISCLI_AUTH: this.env.REDIS_PASSWORD ?? '' },
      timeoutMs: this.config.timeouts.commandMs,
    });
  };

  describeRedis(): string {
    if (this.options.redis !== 'sentinel') return `standalone: the ${checkDependency('redis')} service`;
    return `sentinel: ${SENTINEL_SERVICES.map((s) => `${s}:${SENTINEL_PORT}`).join(',')} on ${projectNetwork(this.project)}, master name ${SENTINEL_MASTER_NAME} (docker compose -p ${this.project.name} exec ${SENTINEL_SERVICES[0]} redis-cli -p ${SENTINEL_PORT} ...)`;
  }

  /** kill -9 the current master's container (`docker kill`, SIGKILL); resolves once it has exited. */
  async killRedisMaster(): Promise<string> {
    this.requireSentinel();
    const service = await currentMaster(this.cli);
    const [container] = (await this.ps(service)).filter((c) => c.state === 'running');
    if (!container) throw new Error(`the sentinels name ${service} as master, but it has no running container`);
    await this.docker(killContainerArgs(container.id, 'SIGKILL'));
    await this.docker(waitContainerArgs(container.id));
    this.killedRedis.add(service);
    return `${service}:6379`;
  }

  /** Start the killed data nodes again; resolves once each is a replica synced with the new master. */
  async reviveRedisNodes(): Promise<void> {
    this.requireSentinel();
    for (const service of [...this.killedRedis]) {
      await this.docker(startServiceArgs(this.project, service));
      await this.waitHealthy(service, () => true);
      await waitForSyncedReplica(this.cli, service, service, this.config.timeouts.healthMs);
      this.killedRedis.delete(service);
    }
  }

  /** `SENTINEL FAILOVER` (an operator's switchover); resolves with the new master once a sentinel names it. */
  async forceRedisSwitchover(): Promise<string> {
    this.requireSentinel();
    return forceSwitchover(this.cli, this.config.timeouts.healthMs);
  }

  async down(): Promise<void> {
    if (this.downed) return;
    this.downed = true;
    try {
      if (this.options.logDir) await this.saveLogs(this.options.logDir);
      // Variants first: they hold the project network, which `down` removes.
      for (const name of [...this.variants]) await this.removeVariant(name).catch(() => undefined);
      await this.tearDownBridgeClients().catch(() => undefined);
      await this.docker(downArgs(this.project), this.config.timeouts.scaleMs);
    } finally {
      this.current = { proxyUrl: '', replicas: [] };
      await rm(this.workDir, { recursive: true, force: true });
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.down();
  }

  private async docker(args: readonly string[], timeoutMs = this.config.timeouts.commandMs): Promise<string> {
    return runChecked(this.config.runner, args, { env: this.env, timeoutMs });
  }

  private containerOf(replicaId: string): string {
    const containerId = this.containers.get(replicaId);
    if (!containerId) {
      throw new Error(`no replica "${replicaId}" in compose project ${this.project.name}; known: ${[...this.containers.keys()].join(', ') || 'none'}`);
    }
    return containerId;
  }

  private async ps(service: string): Promise<ComposeContainer[]> {
    return parseComposePs(await this.docker(psArgs(this.project, service)));
  }

  private async waitHealthy(service: string, match: (container: ComposeContainer) => boolean): Promise<void> {
    await waitFor(
      async () => {
        const containers = (await this.ps(service)).filter(match);
        return containers.length > 0 && containers.every((c) => c.state === 'running' && (c.health === '' || c.health === 'healthy'));
      },
      { what: `${service} in compose project ${this.project.name} to be running and healthy`, timeoutMs: this.config.timeouts.healthMs, intervalMs: 500 },
    );
  }

  /** Re-read the running replicas and the proxy's published port. */
  private async refresh(): Promise<void> {
    const running = (await this.ps(SERVER_SERVICE)).filter((container) => container.state === 'running');
    const details = running.length > 0 ? parseContainerInspect(await this.docker(inspectArgs(running.map((c) => c.id)))) : [];
    const network = projectNetwork(this.project);
    const replicas: ReplicaEndpoint[] = [];
    for (const container of running) {
      const detail = details.find((d) => sameContainer(d.id, container.id));
      if (!detail) throw new Error(`docker inspect returned nothing for container ${container.id} (${container.name})`);
      const address = containerAddress(detail, network);
      if (!address) throw new Error(`container ${container.name} has no IP address on ${network}`);
      const id = detail.hostname || container.id.slice(0, 12);
      this.containers.set(id, detail.id || container.id);
      replicas.push({ id, address, port: SERVER_PORT, url: `http://${address}:${SERVER_PORT}` });
    }
    replicas.sort((a, b) => a.id.localeCompare(b.id));
    const proxy = this.options.proxy;
    const port = parsePublishedPort(await this.docker(portArgs(this.project, proxy, PROXY_CONTAINER_PORT[proxy])));
    // Redis is deliberately not published (see docker-compose.yml): no redisUrl.
    this.current = {
      // Nginx with client addresses of their own: its bridge address (see setUpBridgeClients).
      proxyUrl: this.bridgeClients?.url ?? `http://127.0.0.1:${port}`,
      ...(this.stats ? { statsUrl: statsUrlWithCredentials(this.stats) } : {}),
      replicas,
      ...(this.addressesHidden ? { clientAddressesHidden: this.addressesHidden } : {}),
    };
  }

  /** The HAProxy container's address on the project network, with the run's stats credentials. */
  private async locateStats(): Promise<HaproxyStatsSource | undefined> {
    const [proxy] = (await this.ps(HAPROXY_SERVICE)).filter((container) => container.state === 'running');
    if (!proxy) return undefined;
    const [detail] = parseContainerInspect(await this.docker(inspectArgs([proxy.id])));
    this.haproxy = detail;
    return detail ? this.statsOf(detail) : undefined;
  }

  private statsOf(detail: ContainerDetails): HaproxyStatsSource | undefined {
    const address = containerAddress(detail, projectNetwork(this.project));
    if (!address) return undefined;
    return { baseUrl: `http://${address}:${DOCKER_STATS_PORT}`, user: this.env.WSK_STATS_USER ?? 'admin', password: this.env.WSK_STATS_PASSWORD ?? '' };
  }

  /**
   * A second HAProxy container beside the project's: same image, same
   * environment (read back from the running one, so nothing is restated
   * here), same network and DNS name, with the transformed config mounted.
   */
  async startHaproxyVariant(name: string, transform: (config: string) => string): Promise<ProxyVariant> {
    if (this.options.proxy !== 'haproxy') throw new Error('proxy variants need --proxy haproxy');
    const haproxy = this.haproxy;
    if (!haproxy) throw new Error(`no running HAProxy container in compose project ${this.project.name}`);
    const configFile = join(this.workDir, `haproxy-${name}.cfg`);
    const base = await readFile(join(this.config.projectDir, 'haproxy', 'haproxy.cfg'), 'utf8');
    // World-readable: the image runs HAProxy as its unprivileged user.
    await writeFile(configFile, transform(base), { mode: 0o644 });
    const containerName = `${this.project.name}-haproxy-${name}`;
    const wskEnv = Object.fromEntries(Object.entries(haproxy.env).filter(([key]) => key.startsWith('WSK_')));
    this.variants.add(containerName);
    try {
      await runChecked(
        this.config.runner,
        runProxyVariantArgs(this.project, { name: containerName, image: haproxy.image, configFile, env: Object.keys(wskEnv) }),
        { env: { ...this.env, ...wskEnv }, timeoutMs: this.config.timeouts.commandMs },
      );
      const port = parsePublishedPort(await this.docker(containerPortArgs(containerName, PROXY_CONTAINER_PORT.haproxy)));
      const [detail] = parseContainerInspect(await this.docker(inspectArgs([containerName])));
      const stats = detail ? this.statsOf(detail) : undefined;
      if (!stats) throw new Error(`variant HAProxy ${containerName} has no address on ${projectNetwork(this.project)}`);
      const url = `http://127.0.0.1:${port}`;
      await this.config.routingProbe(
        url,
        this.current.replicas.map((replica) => replica.id),
        {
          proxy: 'haproxy',
          timeoutMs: this.config.timeouts.routingMs,
          expectedAddresses: this.current.replicas.map((replica) => replica.address),
          proxyStates: async () => proxyStatesFromCsv(await this.config.statsFetch(stats)),
          // A variant may break affinity on purpose (the cookie-less control): no client check through it.
          statesOnly: true,
        },
      );
      const stop = () => this.removeVariant(containerName);
      return { url, stop, [Symbol.asyncDispose]: stop };
    } catch (error) {
      await this.removeVariant(containerName).catch(() => undefined);
      throw error;
    }
  }

  private async removeVariant(containerName: string): Promise<void> {
    if (!this.variants.has(containerName)) return;
    await this.docker(removeContainerArgs(containerName));
    this.variants.delete(containerName);
  }

  private async waitForRouting(): Promise<void> {
    await this.config.routingProbe(
      this.current.proxyUrl,
      this.current.replicas.map((replica) => replica.id),
      {
        proxy: this.options.proxy,
        timeoutMs: this.config.timeouts.routingMs,
        expectedAddresses: this.current.replicas.map((replica) => replica.address),
        ...(this.stats ? { proxyStates: () => this.proxyServerStates() } : {}),
      },
    );
  }

  private async saveLogs(logDir: string): Promise<void> {
    const { runner, timeouts } = this.config;
    const project = this.project;
    const env = this.env;
    await saveLogs(logDir, async function* () {
      const result = await runner(logsArgs(project), { env, timeoutMs: timeouts.commandMs });
      yield [`compose-${project.name}.log`, result.stdout + result.stderr] as const;
    });
  }
}

function resolve(options: ComposeDriverOptions): Resolved {
  const projectDir = options.projectDir ?? REPO_ROOT;
  return {
    runner: options.runner ?? createExecRunner({ cwd: projectDir }),
    projectDir,
    composeFile: options.composeFile ?? join(projectDir, 'docker-compose.yml'),
    routingProbe: options.routingProbe ?? waitForProxyRouting,
    projectName: options.projectName ?? (() => uniqueRunName('wsk')),
    statsFetch: options.statsFetch ?? fetchStatsCsv,
    ipRunner: options.ipRunner ?? runIpBatch,
    canAddAddresses: options.canAddAddresses ?? process.getuid?.() === 0,
    freePort: options.freePort ?? (() => freeTcpPort()),
    timeouts: { ...DEFAULT_COMPOSE_TIMEOUTS, ...options.timeouts },
  };
}

/**
 * `docker compose` as a Topology: one Compose project per run, torn down by
 * `down()`. Fails at once, before creating anything, when no Docker engine
 * or no Compose v2 is reachable.
 */
export function createComposeDriver(driverOptions: ComposeDriverOptions = {}): TopologyDriver {
  return {
    async up(options: TopologyOptions): Promise<Topology> {
      const config = resolve(driverOptions);
      if (options.kind !== 'compose') throw new Error(`compose driver asked for a ${options.kind} topology`);
      checkReplicaCount(options.replicas);
      if (options.redis === 'cluster') throw new Error('the compose stack has no Redis Cluster variant (--redis standalone or sentinel)');
      await requireDockerEngine(config.runner, 'compose');
      await requireComposePlugin(config.runner);

      const workDir = await mkdtemp(join(tmpdir(), 'wsk-compose-'));
      const overrideFile = await writeOverrideFile(workDir, composeOverride(options.replicaEnv));
      const files = composeFiles(config, options.redis ?? 'standalone', overrideFile);
      const project: ComposeProject = {
        name: config.projectName(),
        files,
        profiles: options.proxy === 'nginx' ? ['nginx'] : [],
      };
      const env = composeRunEnv(options, { haproxy: await config.freePort(), nginx: await config.freePort() });
      return upOrTearDown(new ComposeTopology(options, project, env, config, workDir));
    },
  };
}

export const composeDriver: TopologyDriver = createComposeDriver();
