import { mkdtemp, rm, } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createExecRunner, DockerCommandError, type DockerRunner, runChecked } from '../docker/docker-runner.ts';
import { requireDockerEngine, requireSwarmManager } from '../docker/engine-check.ts';
import { basicAuth, DOCKER_STATS_PORT, proxyStatesFromCsv, statsUrlWithCredentials } from '../docker/haproxy-stats.ts';
import { type RoutingProbe, waitForProxyRouting } from '../docker/proxy-routing.ts';
import { randomSecret, uniqueRunName } from '../docker/run-names.ts';
import { checkDependency, checkReplicaCount, MAX_TEMPLATE_REPLICAS, saveLogs, upOrTearDown, writeOverrideFile } from '../container/driver-kit.ts';
import { freeTcpPort } from '../lib/free-port.ts';
import { REPO_ROOT } from '../lib/repo-root.ts';
import { waitFor } from '../lib/wait-for.ts';
import type {
  Endpoints,
  KillReport,
  RedisMode,
  ProxyServerState,
  RolloutChange,
  RolloutReport,
  ReplicaEndpoint,
  ReplicaSignal,
  Topology,
  TopologyDriver,
  TopologyOptions,
} from '../topology.ts';
import {
  buildImageArgs,
  createSecretArgs,
  allTasksArgs,
  deployArgs,
  execFetchArgs,
  parseFetchOutput,
  forceUpdateArgs,
  imageUpdateArgs,
  inspectTasksArgs,
  killContainerArgs,
  removeSecretsArgs,
  removeStackArgs,
  removeVolumesArgs,
  stackVolumesArgs,
  STACK_SECRETS,
  type SwarmStack,
  scaleServiceArgs,
  secretName,
  serviceName,
  servicePsArgs,
  stackNetwork,
  tagImageArgs,
  untagImageArgs,
  waitContainerArgs,
} from './swarm-commands.ts';
import { parseServicePs, parseTaskInspect, replicaIdForSlot, slotOfReplicaId, type TaskDetails } from './swarm-tasks.ts';
import {
  currentMaster,
  DATA_NODE_SERVICES,
  type DataNodeService,
  forceSwitchover,
  type RedisCli,
  redisCliExecArgs,
  SENTINEL_MASTER_NAME,
  SENTINEL_PORT,
  SENTINEL_SERVICES,
  STACK_SENTINEL_FILE,
  waitForSyncedReplica,
} from '../container/sentinel-nodes.ts';

/** haproxy.cfg has 16 server-template slots. */
export const MAX_SWARM_REPLICAS = MAX_TEMPLATE_REPLICAS;
const SERVER_PORT = 3000;
/** Longer than HAProxy's re-resolution (hold valid 1s) plus hold obsolete (1s). */
const SWARM_ROUTING_STABLE_MS = 2500;
/** WSK_STATS_USER's default in stack/docker-stack.yml (the runner does not set it). */
const STATS_USER = 'admin';
/** Tag for an image built on this node when no WSK_SERVER_IMAGE is given (single-node swarms only). */
export const LOCAL_SERVER_IMAGE = 'wsk-server:local';

export interface SwarmTimeouts {
  /** Image build + first deploy. */
  upMs: number;
  scaleMs: number;
  commandMs: number;
  routingMs: number;
  /** Until Swarm has replaced a killed task. */
  replaceMs: number;
}

export const DEFAULT_SWARM_TIMEOUTS: Readonly<SwarmTimeouts> = Object.freeze({
  upMs: 10 * 60_000,
  scaleMs: 5 * 60_000,
  commandMs: 2 * 60_000,
  routingMs: 60_000,
  replaceMs: 90_000,
});

export interface SwarmDriverOptions {
  runner?: DockerRunner;
  /** Repository root: build context and home of stack/docker-stack.yml. */
  projectDir?: string;
  stackFile?: string;
  /**
   * The replica image every node can pull. Default: $WSK_SERVER_IMAGE, else
   * build `wsk-server:local` here (works on a single-node swarm only).
   */
  image?: string;
  routingProbe?: RoutingProbe;
  stackName?: () => string;
  freePort?: () => Promise<number>;
  timeouts?: Partial<SwarmTimeouts>;
}

interface Resolved {
  runner: DockerRunner;
  projectDir: string;
  stackFile: string;
  image: string | undefined;
  routingProbe: RoutingProbe;
  stackName: () => string;
  freePort: () => Promise<number>;
  timeouts: SwarmTimeouts;
}

/** `-c` files in order: the stack, its Sentinel variant when asked, the run's override last. */
export function stackFiles(
  config: Pick<Resolved, 'projectDir' | 'stackFile'>,
  redis: RedisMode,
  overrideFile: string | undefined,
): string[] {
  if (redis === 'cluster') throw new Error('the swarm stack has no Redis Cluster variant (--redis standalone or sentinel)');
  return [
    config.stackFile,
    ...(redis === 'sentinel' ? [join(config.projectDir, STACK_SENTINEL_FILE)] : []),
    ...(overrideFile ? [overrideFile] : []),
  ];
}

/** Variables stack/docker-stack.yml reads, for one run. */
export function swarmRunEnv(
  stack: Pick<SwarmStack, 'name'>,
  options: Pick<TopologyOptions, 'adapter' | 'replicas' | 'redis'>,
  image: string,
  haproxyPort: number,
): Record<string, string> {
  return {
    WSK_SERVER_IMAGE: image,
    // Secrets are `<prefix>_redis_password` etc.; the run's own, removed by down().
    WSK_SECRET_PREFIX: stack.name,
    WSK_REPLICAS: String(options.replicas),
    WSK_HAPROXY_PORT: String(haproxyPort),
    // Configs are global objects: a per-run name keeps concurrent stacks apart.
    WSK_HAPROXY_CFG_VERSION: stack.name,
    ADAPTER: options.adapter,
    // Set and empty: the Sentinel variant's replicas have no REDIS_URL
    // (a merged file cannot empty it; stack/docker-stack.sentinel.yml).
    ...(options.redis === 'sentinel' ? { WSK_REDIS_URL: '' } : {}),
  };
}

/** Override stack file (JSON is YAML) carrying extra replica environment; undefined when none. */
export function swarmOverride(replicaEnv: Readonly<Record<string, string>> | undefined): object | undefined {
  if (!replicaEnv || Object.keys(replicaEnv).length === 0) return undefined;
  return { version: '3.8', services: { server: { environment: { ...replicaEnv } } } };
}

export class SwarmTopology implements Topology {
  readonly kind = 'swarm' as const;
  private current: Endpoints = { proxyUrl: '', replicas: [] };
  /** Running server tasks by replica id (server-<slot>). */
  private tasks = new Map<string, TaskDetails>();
  private readonly createdSecrets: string[] = [];
  /** The run's stats password (its secret's value), for reading HAProxy's stats. */
  private statsPassword = '';
  /** The run's Redis password, for redis-cli in the Sentinel variant's tasks. */
  private redisPassword = '';
  /** Data-node services killRedisMaster killed and reviveRedisNodes has not scaled up again. */
  private readonly killedRedis = new Set<DataNodeService>();
  /** HAProxy's stats listener on this node, as an overlay address:port. */
  private statsBase: string | undefined;
  private deployed = false;
  /** Image tags a rollout created (removed by down()). */
  private readonly createdTags: string[] = [];
  private rollouts = 0;
  private downed = false;

  constructor(
    readonly options: Readonly<TopologyOptions>,
    readonly stack: SwarmStack,
    private readonly env: Readonly<Record<string, string>>,
    private readonly config: Resolved,
    private readonly nodeId: string,
    private readonly workDir: string,
    private readonly haproxyPort: number,
    private readonly image: string,
  ) {}

  endpoints(): Endpoints {
    return structuredClone(this.current);
  }

  /** Create the run's secrets, deploy, wait for routing. The driver calls this once. */
  async up(): Promise<void> {
    for (const secret of STACK_SECRETS) {
      const name = secretName(this.stack.name, secret);
      const value = randomSecret();
      if (secret === 'stats_password') this.statsPassword = value;
      if (secret === 'redis_password') this.redisPassword = value;
      await this.docker(createSecretArgs(name), { input: value });
      this.createdSecrets.push(name);
    }
    this.deployed = true;
    await this.docker(deployArgs(this.stack), { timeoutMs: this.config.timeouts.upMs });
    this.statsBase = await this.locateStats();
    await this.refresh();
    await this.waitForRouting();
  }

  /**
   * HAProxy's slots as its stats CSV shows them, read from inside a server
   * task: the stats listener is on the overlay network only (the stack
   * publishes just the client port).
   */
  async proxyServerStates(): Promise<ProxyServerState[] | undefined> {
    if (!this.statsBase) return undefined;
    const { status, body } = await this.httpGet(`${this.statsBase}/stats;csv`, {
      headers: { authorization: basicAuth(STATS_USER, this.statsPassword) },
    });
    if (status !== 200) throw new Error(`HAProxy stats at ${this.statsBase} answered ${status}: ${body.slice(0, 200)}`);
    return proxyStatesFromCsv(body);
  }

  /**
   * GET from inside a running server task on this node (the host has no
   * route into an overlay network). The task the URL points at is avoided
   * when another exists, so a replica that is going away can still be asked
   * whether it has gone.
   */
  async httpGet(
    url: string,
    { headers = {}, timeoutMs = 3000 }: { headers?: Readonly<Record<string, string>>; timeoutMs?: number } = {},
  ): Promise<{ status: number; body: string }> {
    const host = new URL(url).hostname;
    const local = [...this.tasks.values()].filter((task) => task.nodeId === this.nodeId && task.containerId !== '');
    // Others first; the list may still hold a task a fault just killed, so
    // one whose container is gone (exit 125/126, "not running") is skipped.
    const candidates = [...local.filter((task) => !Object.values(task.addresses).includes(host)), ...local.filter((task) => Object.values(task.addresses).includes(host))];
    if (candidates.length === 0) throw new Error(`no running server task on this node (${this.nodeId}) to GET ${url} from`);
    let lastError: unknown;
    for (const task of candidates) {
      try {
        const output = await this.docker(execFetchArgs(task.containerId, url, timeoutMs), {
          env: { WSK_FETCH_HEADERS: JSON.stringify(headers) },
          timeoutMs: timeoutMs + 10_000,
        });
        return parseFetchOutput(output);
      } catch (error) {
        lastError = error;
        const gone = error instanceof DockerCommandError && (error.result.code === 125 || error.result.code === 126 || /is not running|No such container/i.test(error.result.stderr));
        if (!gone) throw error;
      }
    }
    throw lastError;
  }

  /** The overlay address of the HAProxy task on this node (a global service runs one per node). */
  private async locateStats(): Promise<string | undefined> {
    const listed = parseServicePs(await this.docker(servicePsArgs(this.stack, 'haproxy')));
    if (listed.length === 0) return undefined;
    const details = parseTaskInspect(await this.docker(inspectTasksArgs(listed.map((task) => task.id))));
    const local = details.find((task) => task.nodeId === this.nodeId && task.state === 'running') ?? details[0];
    const address = local?.addresses[stackNetwork(this.stack)];
    return address ? `http://${address}:${DOCKER_STATS_PORT}` : undefined;
  }

  async scale(count: number): Promise<void> {
    checkReplicaCount(count);
    await this.docker(scaleServiceArgs(this.stack, 'server', count), { timeoutMs: this.config.timeouts.scaleMs });
    await waitFor(
      async () => {
        await this.refresh();
        return this.current.replicas.length === count;
      },
      { what: `${count} running tasks of ${serviceName(this.stack, 'server')}`, timeoutMs: this.config.timeouts.scaleMs, intervalMs: 500 },
    );
    await this.waitForRouting();
  }

  async kill(replicaId: string, signal: ReplicaSignal): Promise<KillReport> {
    const task = this.taskOf(replicaId);
    if (task.nodeId !== this.nodeId) {
      throw new Error(
        `replica ${replicaId} runs on swarm node ${task.nodeId}; the swarm driver can signal tasks on this node (${this.nodeId}) only`,
      );
    }
    await this.docker(killContainerArgs(task.containerId, signal));
    const signalledAt = performance.now();
    await this.docker(waitContainerArgs(task.containerId));
    await this.refresh();
    return { signalledAt };
  }

  /**
   * Swarm replaces a dead task by itself (restart_policy); "start" waits for
   * the replacement in the same slot, hence the same replica id. Its address
   * is new: Swarm gives every task its own.
   */
  async start(replicaId: string): Promise<void> {
    const slot = slotOfReplicaId(replicaId);
    if (slot === undefined) throw new Error(`"${replicaId}" is not a swarm replica id (server-<slot>)`);
    await waitFor(
      async () => {
        await this.refresh();
        return this.tasks.has(replicaId);
      },
      { what: `swarm to run a new task in slot ${slot} (${replicaId})`, timeoutMs: this.config.timeouts.replaceMs, intervalMs: 500 },
    );
    await this.waitForRouting();
  }

  /**
   * `docker service update` of the server service. An image change needs an
   * image Swarm sees as new: locally built images get a second tag (same
   * layers, new name); a registry image (WSK_SERVER_IMAGE) cannot be
   * re-tagged from here, so only `force` applies to it.
   */
  async rollingUpdate(change: RolloutChange): Promise<RolloutReport> {
    await this.refresh();
    const before = new Map([...this.tasks].map(([id, task]) => [id, task.containerId]));
    let args: string[];
    if (change === 'image') {
      if (!this.stack.localImage) throw new Error('an image-change rollout needs a locally built image (unset WSK_SERVER_IMAGE)');
      this.rollouts += 1;
      const tag = `${this.image.replace(/:[^:/]*$/, '')}:rollout-${this.stack.name}-${this.rollouts}`;
      await this.docker(tagImageArgs(this.image, tag));
      this.createdTags.push(tag);
      args = imageUpdateArgs(this.stack, 'server', tag);
    } else {
      args = forceUpdateArgs(this.stack, 'server');
    }
    const started = Date.now();
    await this.docker(args, { timeoutMs: this.config.timeouts.scaleMs });
    const durationMs = Date.now() - started;
    await this.refresh();
    await this.waitForRouting();
    const replaced = [...this.tasks]
      .filter(([id, task]) => before.has(id) && before.get(id) !== task.containerId)
      .map(([id]) => id)
      .sort();
    return { change, replaced, durationMs };
  }

  /** Scale the dependency to 0 and wait until its container has stopped (not only been told to). */
  async stopDependency(name: 'redis'): Promise<void> {
    this.requireStandalone();
    const service = checkDependency(name);
    await this.scaleDown(service);
  }

  /** Scale a service to 0; resolves once none of its tasks runs or starts. */
  private async scaleDown(service: string): Promise<void> {
    await this.docker(scaleServiceArgs(this.stack, service, 0), { timeoutMs: this.config.timeouts.scaleMs });
    await waitFor(
      async () => {
        const tasks = parseServicePs(await this.docker(allTasksArgs(this.stack, service)));
        const running = tasks.filter((task) => /^(running|starting)/i.test(task.currentState)).map((task) => task.name);
        if (running.length > 0) throw new Error(`still running: ${running.join(', ')}`);
        return true;
      },
      { what: `${serviceName(this.stack, service)} to stop`, timeoutMs: this.config.timeouts.scaleMs, intervalMs: 200 },
    );
  }

  /** Scale the dependency to 1 and wait until its task runs (Swarm says Running once the healthcheck passes). */
  async startDependency(name: 'redis'): Promise<void> {
    this.requireStandalone();
    const service = checkDependency(name);
    await this.scaleUp(service);
  }

  /** Scale a service to 1; resolves once its task runs (after its healthcheck passed). */
  private async scaleUp(service: string): Promise<void> {
    await this.docker(scaleServiceArgs(this.stack, service, 1), { timeoutMs: this.config.timeouts.scaleMs });
    await waitFor(
      async () => {
        const tasks = parseServicePs(await this.docker(servicePsArgs(this.stack, service)));
        return tasks.some((task) => /^running/i.test(task.currentState));
      },
      { what: `${serviceName(this.stack, service)} to run again`, timeoutMs: this.config.timeouts.scaleMs, intervalMs: 200 },
    );
  }

  private requireStandalone(): void {
    if ((this.options.redis ?? 'standalone') !== 'standalone') {
      throw new Error('a full Redis outage is the standalone case; the Sentinel variant fails over instead (killRedisMaster)');
    }
  }

  private requireSentinel(): void {
    if (this.options.redis !== 'sentinel') throw new Error(`needs --redis sentinel (stack ${this.stack.name} runs ${this.options.redis ?? 'standalone'})`);
  }

  /** The container of `service`'s running task on this node (one-replica services: the data nodes, the sentinels). */
  private async localContainerOf(service: string): Promise<string> {
    const listed = parseServicePs(await this.docker(servicePsArgs(this.stack, service)));
    const details = listed.length > 0 ? parseTaskInspect(await this.docker(inspectTasksArgs(listed.map((task) => task.id)))) : [];
    const task = details.find((t) => t.state === 'running' && t.nodeId === this.nodeId && t.containerId !== '');
    if (!task) throw new Error(`no running task of ${serviceName(this.stack, service)} on this node (${this.nodeId})`);
    return task.containerId;
  }

  /** `redis-cli` in `service`'s task, authenticated with the run's password (from the environment, never argv). */
  private readonly cli: RedisCli = async (service, port, command) => {
    const containerId = await this.localContainerOf(service);
    return this.docker(redisCliExecArgs(containerId, port, command), { env: { REDISCLI_AUTH: this.redisPassword } });
  };

  describeRedis(): string {
    if (this.options.redis !== 'sentinel') return `standalone: the ${serviceName(this.stack, 'redis')} service`;
    return `sentinel: ${SENTINEL_SERVICES.map((s) => `${s}:${SENTINEL_PORT}`).join(',')} on ${stackNetwork(this.stack)}, master name ${SENTINEL_MASTER_NAME} (docker exec -e REDISCLI_AUTH <${serviceName(this.stack, SENTINEL_SERVICES[0])} container> redis-cli -p ${SENTINEL_PORT} ...)`;
  }

  /**
   * kill -9 the current master's container, then scale its service to 0
   * before Swarm's restart delay (2 s) runs out: the node stays gone, as a
   * lost machine would, so the sentinels must fail over. (Left to Swarm, the
   * master is back within ~3 s, inside down-after, and no failover happens.)
   */
  async killRedisMaster(): Promise<string> {
    this.requireSentinel();
    const service = await currentMaster(this.cli);
    const containerId = await this.localContainerOf(service);
    this.killedRedis.add(service);
    await this.docker(killContainerArgs(containerId, 'SIGKILL'));
    await this.docker(scaleServiceArgs(this.stack, service, 0));
    await this.docker(waitContainerArgs(containerId));
    return `${service}:6379`;
  }

  /** Scale the killed data nodes back to 1; resolves once each is a replica synced with the new master. */
  async reviveRedisNodes(): Promise<void> {
    this.requireSentinel();
    for (const service of [...this.killedRedis]) {
      await this.scaleUp(service);
      await waitForSyncedReplica(this.cli, service, serviceName(this.stack, service), this.config.timeouts.replaceMs);
      this.killedRedis.delete(service);
    }
  }

  /** `SENTINEL FAILOVER` (an operator's switchover); resolves with the new master once a sentinel names it. */
  async forceRedisSwitchover(): Promise<string> {
    this.requireSentinel();
    return forceSwitchover(this.cli, this.config.timeouts.replaceMs);
  }

  async down(): Promise<void> {
    if (this.downed) return;
    this.downed = true;
    const failures: unknown[] = [];
    try {
      if (this.deployed) {
        if (this.options.logDir) await this.saveLogs(this.options.logDir);
        await this.docker(removeStackArgs(this.stack), { timeoutMs: this.config.timeouts.scaleMs }).catch((error: unknown) => {
          failures.push(error);
        });
      }
      for (const tag of this.createdTags) {
        await this.docker(untagImageArgs(tag)).catch((error: unknown) => {
          failures.push(error);
        });
      }
      if (this.deployed) await this.removeVolumes().catch((error: unknown) => failures.push(error));
      if (this.createdSecrets.length > 0) {
        // Only after the stack's tasks are gone: Swarm refuses to remove a secret in use.
        await this.docker(removeSecretsArgs(this.createdSecrets)).catch((error: unknown) => {
          failures.push(error);
        });
      }
    } finally {
      this.current = { proxyUrl: '', replicas: [] };
      await rm(this.workDir, { recursive: true, force: true });
    }
    if (failures.length > 0) throw failures[0];
  }

  /**
   * The stack's volumes (Redis' append-only files, the sentinels' state).
   * Its containers are removed a moment after `stack rm` returns; until then
   * a volume is "in use", so retry within the scale timeout.
   */
  private async removeVolumes(): Promise<void> {
    await waitFor(
      async () => {
        const names = (await this.docker(stackVolumesArgs(this.stack))).split(/\s+/).filter((name) => name !== '');
        if (names.length === 0) return true;
        await this.docker(removeVolumesArgs(names));
        return true;
      },
      { what: `the volumes of stack ${this.stack.name} to be removed`, timeoutMs: this.config.timeouts.scaleMs, intervalMs: 1000 },
    );
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.down();
  }

  private async docker(
    args: readonly string[],
    options: { input?: string; timeoutMs?: number; env?: Record<string, string> } = {},
  ): Promise<string> {
    return runChecked(this.config.runner, args, {
      env: { ...this.env, ...options.env },
      timeoutMs: options.timeoutMs ?? this.config.timeouts.commandMs,
      ...(options.input !== undefined ? { input: options.input } : {}),
    });
  }

  private taskOf(replicaId: string): TaskDetails {
    const task = this.tasks.get(replicaId);
    if (!task) {
      throw new Error(`no running replica "${replicaId}" in stack ${this.stack.name}; running: ${[...this.tasks.keys()].join(', ') || 'none'}`);
    }
    return task;
  }

  /** Re-read the running server tasks (slot, node, container, overlay address). */
  private async refresh(): Promise<void> {
    const listed = parseServicePs(await this.docker(servicePsArgs(this.stack, 'server')));
    const details = listed.length > 0 ? parseTaskInspect(await this.docker(inspectTasksArgs(listed.map((task) => task.id)))) : [];
    const network = stackNetwork(this.stack);
    const tasks = new Map<string, TaskDetails>();
    const replicas: ReplicaEndpoint[] = [];
    for (const task of details) {
      if (task.state !== 'running' || task.slot === undefined) continue;
      const id = replicaIdForSlot(task.slot);
      const address = task.addresses[network] ?? Object.values(task.addresses)[0] ?? '';
      tasks.set(id, task);
      replicas.push({ id, address, port: SERVER_PORT, url: `http://${address}:${SERVER_PORT}` });
    }
    replicas.sort((a, b) => (slotOfReplicaId(a.id) ?? 0) - (slotOfReplicaId(b.id) ?? 0));
    this.tasks = tasks;
    // HAProxy publishes in host mode on every node (global service); this
    // runner is on a manager that runs one. Replica URLs are overlay
    // addresses, reachable from containers on the stack network only.
    // Overlay addresses: scenarios reach replicas and the stats listener
    // through httpGet (from inside a task), and sockets through the proxy.
    this.current = {
      proxyUrl: `http://127.0.0.1:${this.haproxyPort}`,
      ...(this.statsBase ? { statsUrl: statsUrlWithCredentials({ baseUrl: this.statsBase, user: STATS_USER, password: this.statsPassword }) } : {}),
      replicas,
      replicasReachable: false,
    };
  }

  private async waitForRouting(): Promise<void> {
    await this.config.routingProbe(
      this.current.proxyUrl,
      this.current.replicas.map((replica) => replica.id),
      {
        proxy: 'haproxy',
        timeoutMs: this.config.timeouts.routingMs,
        expectedAddresses: this.current.replicas.map((replica) => replica.address),
        ...(this.statsBase ? { proxyStates: () => this.proxyServerStates() } : {}),
        // Measured once: right after a deploy one slot stayed out while the wait had already seen it UP.
        stableForMs: SWARM_ROUTING_STABLE_MS,
      },
    );
  }

  private async saveLogs(logDir: string): Promise<void> {
    const { runner, timeouts } = this.config;
    const stack = this.stack;
    const env = this.env;
    const options = this.options;
    await saveLogs(logDir, async function* () {
      const redisServices = options.redis === 'sentinel' ? [...DATA_NODE_SERVICES, ...SENTINEL_SERVICES] : ['redis'];
      for (const service of ['server', 'haproxy', ...redisServices]) {
        const result = await runner(['service', 'logs', '--no-task-ids', '--timestamps', serviceName(stack, service)], {
          env,
          timeoutMs: timeouts.commandMs,
        });
        yield [`swarm-${serviceName(stack, service)}.log`, result.stdout + result.stderr] as const;
      }
    });
  }
}

function resolve(options: SwarmDriverOptions): Resolved {
  const projectDir = options.projectDir ?? REPO_ROOT;
  const envImage = process.env.WSK_SERVER_IMAGE;
  return {
    runner: options.runner ?? createExecRunner({ cwd: projectDir }),
    projectDir,
    stackFile: options.stackFile ?? join(projectDir, 'stack', 'docker-stack.yml'),
    image: options.image ?? (envImage ? envImage : undefined),
    routingProbe: options.routingProbe ?? waitForProxyRouting,
    stackName: options.stackName ?? (() => uniqueRunName('wsk')),
    freePort: options.freePort ?? (() => freeTcpPort()),
    timeouts: { ...DEFAULT_SWARM_TIMEOUTS, ...options.timeouts },
  };
}

/**
 * `docker stack deploy` as a Topology: one stack (and its own secrets) per
 * run, removed by `down()`. Fails at once when no engine is reachable or the
 * engine is not a swarm manager.
 */
export function createSwarmDriver(driverOptions: SwarmDriverOptions = {}): TopologyDriver {
  return {
    async up(options: TopologyOptions): Promise<Topology> {
      const config = resolve(driverOptions);
      if (options.kind !== 'swarm') throw new Error(`swarm driver asked for a ${options.kind} topology`);
      if (options.proxy !== 'haproxy') {
        throw new Error(
          'swarm topology runs HAProxy only (stack/docker-stack.yml): ip_hash needs real client addresses, which Swarm rewrites unless every client reaches the proxy directly',
        );
      }
      checkReplicaCount(options.replicas);
      await requireDockerEngine(config.runner, 'swarm');
      const { nodeId } = await requireSwarmManager(config.runner);

      const image = config.image ?? LOCAL_SERVER_IMAGE;
      if (config.image === undefined) {
        await runChecked(config.runner, buildImageArgs(image, config.projectDir), { timeoutMs: config.timeouts.upMs });
      }
      const workDir = await mkdtemp(join(tmpdir(), 'wsk-swarm-'));
      const overrideFile = await writeOverrideFile(workDir, swarmOverride(options.replicaEnv));
      const files = stackFiles(config, options.redis ?? 'standalone', overrideFile);
      const stack: SwarmStack = { name: config.stackName(), files, localImage: config.image === undefined };
      const haproxyPort = await config.freePort();
      const env = swarmRunEnv(stack, options, image, haproxyPort);
      return upOrTearDown(new SwarmTopology(options, stack, env, config, nodeId, workDir, haproxyPort, image));
    },
  };
}

export const swarmDriver: TopologyDriver = createSwarmDriver();
