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

/** Variables stack/docker-stack.yml reads, for one run. */
export function swarmRunEnv(
  stack: Pick<SwarmStack, 'name'>,
  options: Pick<TopologyOptions, 'adapter' | 'replicas'>,
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

  async kill(replicaId: string, signal: ReplicaSignal): Promise<void> {
    const task = this.taskOf(replicaId);
    if (task.nodeId !== this.nodeId) {
      throw new Error(
        `replica ${replicaId} runs on swarm node ${task.nodeId}; the swarm driver can signal tasks on this node (${this.nodeId}) only`,
      );
    }
    await this.docker(killContainerArgs(task.containerId, signal));
    await this.docker(waitContainerArgs(task.containerId));
    await this.refresh();
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
    const service = checkDependency(name);
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
    const service = checkDependency(name);
    await this.docker(scaleServiceArgs(this.stack, service, 1), { timeoutMs: this.config.timeouts.scaleMs });
    await waitFor(
      async () => {
        const tasks = parseServicePs(await this.docker(servicePsArgs(this.stack, service)));
        return tasks.some((task) => /^running/i.test(task.currentState));
      },
      { what: `${serviceName(this.stack, service)} to run again`, timeoutMs: this.config.timeouts.scaleMs, intervalMs: 200 },
    );
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
    await saveLogs(logDir, async function* () {
      for (const service of ['server', 'haproxy', 'redis']) {
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
      const files = overrideFile ? [config.stackFile, overrideFile] : [config.stackFile];
      const stack: SwarmStack = { name: config.stackName(), files, localImage: config.image === undefined };
      const haproxyPort = await config.freePort();
      const env = swarmRunEnv(stack, options, image, haproxyPort);
      return upOrTearDown(new SwarmTopology(options, stack, env, config, nodeId, workDir, haproxyPort, image));
    },
  };
}

export const swarmDriver: TopologyDriver = createSwarmDriver();
