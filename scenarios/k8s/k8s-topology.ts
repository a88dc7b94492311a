import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { checkDependency, checkReplicaCount, MAX_TEMPLATE_REPLICAS, saveLogs, upOrTearDown } from '../container/driver-kit.ts';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { type BackgroundCommand, type BackgroundSpawner, spawnBackground, waitForOutput } from '../container/background-command.ts';
import { type CommandRunner, createCommandRunner, runChecked } from '../container/command-runner.ts';
import { type AffinityKind, type RoutingWait, waitForRouting } from '../container/routing-wait.ts';
import { randomSecret, uniqueRunName } from '../docker/run-names.ts';
import { REPO_ROOT } from '../lib/repo-root.ts';
import { waitFor } from '../lib/wait-for.ts';
import type { Endpoints, KillReport, ReplicaEndpoint, ReplicaSignal, Topology, TopologyDriver, TopologyOptions } from '../topology.ts';
import { requireCluster } from './cluster-check.ts';
import {
  applyArgs,
  deleteNamespaceArgs,
  getEndpointSlicesArgs,
  getPodsArgs,
  logsArgs,
  portForwardArgs,
  REDIS_SELECTOR,
  REPLICA_CONTAINER,
  REPLICA_SELECTOR,
  renderArgs,
  rolloutStatusArgs,
  scaleArgs,
  signalReplicaArgs,
  waitPodsDeletedArgs,
} from './kubectl-commands.ts';
import { type PodState, parsePods, parseReadyEndpoints } from './kube-objects.ts';
import { runKustomization } from './run-kustomization.ts';

/** haproxy.cfg has 16 server-template slots. */
export const MAX_K8S_REPLICAS = MAX_TEMPLATE_REPLICAS;
const SERVER_PORT = 3000;
/** The base's image name: what `kind load docker-image wsk-server:local` provides. */
export const DEFAULT_K8S_IMAGE = 'wsk-server:local';

export interface K8sTimeouts {
  /** First apply until every workload has rolled out (image pulls included). */
  upMs: number;
  scaleMs: number;
  commandMs: number;
  routingMs: number;
  /** Until a signalled replica's container has exited / is back and ready (kubelet back-off included). */
  restartMs: number;
  /** Namespace deletion (every pod drains first). */
  downMs: number;
}

export const DEFAULT_K8S_TIMEOUTS: Readonly<K8sTimeouts> = Object.freeze({
  upMs: 10 * 60_000,
  scaleMs: 5 * 60_000,
  commandMs: 2 * 60_000,
  routingMs: 60_000,
  restartMs: 2 * 60_000,
  downMs: 5 * 60_000,
});

/** What the driver applies and where it looks: the overlay, whose endpoints to read, where to forward. */
export interface K8sProxyPlan {
  readonly overlay: string;
  /** The Service whose ready endpoints the proxy routes to. */
  readonly endpointsService: string;
  /** `kubectl port-forward` target in the run's namespace. */
  readonly forward: Readonly<{ target: string; port: number }>;
  readonly affinity: AffinityKind;
  /** Workloads to wait for after apply, besides the replicas and Redis. */
  readonly rollouts: readonly string[];
}

/**
 * The overlay the runner drives: HAProxy on the headless Service. The
 * scenarios read `--proxy nginx` as ip_hash (source-address affinity),
 * which no k8s overlay provides - ingress-nginx's is a cookie - so the
 * driver refuses it rather than run ip_hash checks against cookies. The
 * ingress-nginx and ClientIP overlays are validated by `make check` only
 * (a port-forward is one tunnel to one pod and would bypass kube-proxy's
 * ClientIP affinity anyway).
 */
export const HAPROXY_PLAN: K8sProxyPlan = Object.freeze({
  overlay: 'haproxy',
  endpointsService: 'server-headless',
  forward: Object.freeze({ target: 'svc/haproxy', port: 8080 }),
  affinity: 'cookie',
  rollouts: Object.freeze(['deployment/haproxy']),
});

export type K8sRoutingProbe = (proxyUrl: string, expectedIds: readonly string[], options: RoutingWait) => Promise<void>;

export interface K8sDriverOptions {
  runner?: CommandRunner;
  /** Starts `kubectl port-forward` (default: a managed child process). */
  spawn?: BackgroundSpawner;
  /** Environment for spawned kubectl processes (tests put a fake kubectl first on PATH). */
  spawnEnv?: NodeJS.ProcessEnv;
  /** Default: k8s/overlays under the repository root. */
  overlaysDir?: string;
  /** Default: $WSK_SERVER_IMAGE, else wsk-server:local (kind: `kind load docker-image wsk-server:local`). */
  image?: string;
  routingProbe?: K8sRoutingProbe;
  namespace?: () => string;
  timeouts?: Partial<K8sTimeouts>;
}

interface Resolved {
  runner: CommandRunner;
  spawn: BackgroundSpawner;
  spawnEnv: NodeJS.ProcessEnv | undefined;
  overlaysDir: string;
  image: string;
  routingProbe: K8sRoutingProbe;
  namespace: () => string;
  timeouts: K8sTimeouts;
}

const seconds = (ms: number): number => Math.max(1, Math.ceil(ms / 1000));

export class K8sTopology implements Topology {
  readonly kind = 'k8s' as const;
  private current: Endpoints = { proxyUrl: '', replicas: [] };
  private pods = new Map<string, PodState>();
  private forward: BackgroundCommand | undefined;
  private applied = false;
  private downed = false;

  constructor(
    readonly options: Readonly<TopologyOptions>,
    readonly namespace: string,
    readonly plan: K8sProxyPlan,
    private readonly config: Resolved,
    private readonly workDir: string,
  ) {}

  endpoints(): Endpoints {
    return structuredClone(this.current);
  }

  /** Write the run's kustomization, render, apply, wait for rollouts, forward, wait for routing. The driver calls this once. */
  async up(): Promise<void> {
    const files = runKustomization({
      overlayPath: relative(this.workDir, join(this.config.overlaysDir, this.plan.overlay)),
      namespace: this.namespace,
      image: this.config.image,
      replicas: this.options.replicas,
      adapter: this.options.adapter,
      ...(this.options.replicaEnv ? { replicaEnv: this.options.replicaEnv } : {}),
      secrets: { redisPassword: randomSecret(), cookieKey: randomSecret(), statsPassword: randomSecret() },
    });
    for (const [name, content] of Object.entries(files)) {
      await writeFile(join(this.workDir, name), content, { mode: 0o600 });
    }
    const rendered = await this.kubectl(renderArgs(this.workDir));
    // From here on, down() deletes the namespace, even if apply half-failed.
    this.applied = true;
    await this.kubectl(applyArgs(), { input: rendered, timeoutMs: this.config.timeouts.upMs });
    // The secrets are in the cluster now; the copy on disk is not needed.
    await rm(join(this.workDir, 'secrets.env'), { force: true });
    for (const resource of ['statefulset/redis', 'deployment/server', ...this.plan.rollouts]) {
      await this.rollout(resource, this.config.timeouts.upMs);
    }
    await this.refresh();
    await this.startForward();
    await this.waitForRouting();
  }

  async scale(count: number): Promise<void> {
    checkReplicaCount(count);
    await this.kubectl(scaleArgs(this.namespace, 'deployment/server', count));
    await this.rollout('deployment/server', this.config.timeouts.scaleMs);
    await waitFor(
      async () => {
        await this.refresh();
        return this.current.replicas.length === count && [...this.pods.values()].every((pod) => !pod.deleting);
      },
      { what: `${count} ready endpoints of Service ${this.plan.endpointsService} in namespace ${this.namespace}`, timeoutMs: this.config.timeouts.scaleMs, intervalMs: 500 },
    );
    await this.waitForRouting();
  }

  async kill(replicaId: string, signal: ReplicaSignal): Promise<KillReport> {
    await this.refresh();
    const before = this.podOf(replicaId).restarts;
    const result = await this.config.runner(signalReplicaArgs(this.namespace, replicaId, signal), { timeoutMs: this.config.timeouts.commandMs });
    const signalledAt = performance.now();
    // `kubectl exec` may lose its stream when the container dies under it;
    // what counts is that the kubelet saw the container exit.
    await waitFor(
      async () => {
        await this.refresh();
        const pod = this.pods.get(replicaId);
        // Exited: not running (terminated, or waiting out the back-off), or already restarted.
        return pod === undefined || !pod.running || pod.restarts > before;
      },
      {
        what: `replica ${replicaId} to exit after ${signal} (its container to stop running, or its restartCount to pass ${before})${result.code === 0 ? '' : `; kubectl exec said: ${result.stderr.trim()}`}`,
        timeoutMs: this.config.timeouts.restartMs,
        intervalMs: 250,
      },
    );
    return { signalledAt };
  }

  /**
   * The kubelet restarts the container by itself (restartPolicy Always), in
   * the same pod: "start" waits until that pod is a ready endpoint again
   * and the proxy routes to it. A second restart within minutes waits out
   * the kubelet's back-off (10 s, 20 s, ...), inside restartMs.
   */
  async start(replicaId: string): Promise<void> {
    await waitFor(
      async () => {
        await this.refresh();
        return this.current.replicas.some((replica) => replica.id === replicaId);
      },
      { what: `pod ${replicaId} to be a ready endpoint of ${this.plan.endpointsService} again`, timeoutMs: this.config.timeouts.restartMs, intervalMs: 500 },
    );
    await this.waitForRouting();
  }

  async stopDependency(name: 'redis'): Promise<void> {
    checkDependency(name);
    await this.kubectl(scaleArgs(this.namespace, 'statefulset/redis', 0));
    await this.kubectl(waitPodsDeletedArgs(this.namespace, REDIS_SELECTOR, seconds(this.config.timeouts.scaleMs)), { timeoutMs: this.config.timeouts.scaleMs });
  }

  async startDependency(name: 'redis'): Promise<void> {
    checkDependency(name);
    await this.kubectl(scaleArgs(this.namespace, 'statefulset/redis', 1));
    await this.rollout('statefulset/redis', this.config.timeouts.scaleMs);
  }

  async down(): Promise<void> {
    if (this.downed) return;
    this.downed = true;
    let failure: unknown;
    try {
      await this.forward?.stop();
      if (this.applied) {
        if (this.options.logDir) await this.saveLogs(this.options.logDir);
        await this.kubectl(deleteNamespaceArgs(this.namespace, seconds(this.config.timeouts.downMs)), { timeoutMs: this.config.timeouts.downMs + 10_000 }).catch(
          (error: unknown) => {
            failure = error;
          },
        );
      }
    } finally {
      this.current = { proxyUrl: '', replicas: [] };
      await rm(this.workDir, { recursive: true, force: true });
    }
    if (failure !== undefined) throw failure;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.down();
  }

  private async kubectl(args: readonly string[], options: { input?: string; timeoutMs?: number } = {}): Promise<string> {
    return runChecked(this.config.runner, 'kubectl', args, {
      timeoutMs: options.timeoutMs ?? this.config.timeouts.commandMs,
      ...(options.input !== undefined ? { input: options.input } : {}),
    });
  }

  private async rollout(resource: string, timeoutMs: number): Promise<void> {
    await this.kubectl(rolloutStatusArgs(this.namespace, resource, seconds(timeoutMs)), { timeoutMs: timeoutMs + 10_000 });
  }

  private podOf(replicaId: string): PodState {
    const pod = this.pods.get(replicaId);
    if (!pod) throw new Error(`no replica pod "${replicaId}" in namespace ${this.namespace}; running: ${[...this.pods.keys()].join(', ') || 'none'}`);
    return pod;
  }

  /** Re-read the replica pods and the ready endpoints the proxy routes to. */
  private async refresh(): Promise<void> {
    const pods = parsePods(await this.kubectl(getPodsArgs(this.namespace, REPLICA_SELECTOR)), REPLICA_CONTAINER);
    const ready = parseReadyEndpoints(await this.kubectl(getEndpointSlicesArgs(this.namespace, this.plan.endpointsService)));
    this.pods = new Map(pods.map((pod) => [pod.name, pod]));
    // Pod IPs: reachable from inside the cluster (or a runner on its network), not through the port-forward.
    const replicas: ReplicaEndpoint[] = ready.map(({ pod, address }) => ({ id: pod, address, port: SERVER_PORT, url: `http://${address}:${SERVER_PORT}` }));
    this.current = { ...this.current, replicas };
  }

  private async startForward(): Promise<void> {
    const { target, port } = this.plan.forward;
    this.forward = this.config.spawn('kubectl', portForwardArgs(this.namespace, target, port), {
      name: `port-forward-${target}`,
      ...(this.config.spawnEnv ? { env: this.config.spawnEnv } : {}),
    });
    const match = await waitForOutput(this.forward, /Forwarding from 127\.0\.0\.1:(\d+) ->/, {
      what: `kubectl port-forward to ${target} to listen`,
      timeoutMs: this.config.timeouts.commandMs,
    });
    this.current = { ...this.current, proxyUrl: `http://127.0.0.1:${match[1]}` };
  }

  private async waitForRouting(): Promise<void> {
    await this.config.routingProbe(
      this.current.proxyUrl,
      this.current.replicas.map((replica) => replica.id),
      { affinity: this.plan.affinity, timeoutMs: this.config.timeouts.routingMs },
    );
  }

  private async saveLogs(logDir: string): Promise<void> {
    const { runner, timeouts } = this.config;
    const namespace = this.namespace;
    await saveLogs(logDir, async function* () {
      const result = await runner(logsArgs(namespace), { timeoutMs: timeouts.commandMs });
      yield [`k8s-${namespace}.log`, result.stdout + result.stderr] as const;
    });
  }
}

function resolve(options: K8sDriverOptions): Resolved {
  const env = process.env;
  return {
    runner: options.runner ?? createCommandRunner('kubectl', { cwd: REPO_ROOT }),
    spawn: options.spawn ?? spawnBackground,
    spawnEnv: options.spawnEnv,
    overlaysDir: options.overlaysDir ?? join(REPO_ROOT, 'k8s', 'overlays'),
    image: options.image ?? (env.WSK_SERVER_IMAGE || DEFAULT_K8S_IMAGE),
    routingProbe: options.routingProbe ?? waitForRouting,
    namespace: options.namespace ?? (() => uniqueRunName('wsk')),
    timeouts: { ...DEFAULT_K8S_TIMEOUTS, ...options.timeouts },
  };
}

/**
 * `kubectl` as a Topology: one namespace per run holding everything it
 * applies, deleted by `down()`. Fails at once when no cluster answers.
 */
export function createK8sDriver(driverOptions: K8sDriverOptions = {}): TopologyDriver {
  return {
    async up(options: TopologyOptions): Promise<Topology> {
      const config = resolve(driverOptions);
      if (options.kind !== 'k8s') throw new Error(`k8s driver asked for a ${options.kind} topology`);
      if (options.proxy !== 'haproxy') {
        throw new Error(
          'k8s topology runs the HAProxy overlay only: the scenarios read --proxy nginx as ip_hash, which no k8s overlay provides (k8s/overlays/ingress-nginx is cookie affinity; `make check` validates it, the runner does not drive it)',
        );
      }
      checkReplicaCount(options.replicas);
      await requireCluster(config.runner);
      const workDir = await mkdtemp(join(tmpdir(), 'wsk-k8s-'));
      await chmod(workDir, 0o700);
      return upOrTearDown(new K8sTopology(options, config.namespace(), HAPROXY_PLAN, config, workDir));
    },
  };
}

export const k8sDriver: TopologyDriver = createK8sDriver();
