import { isRecord, type K8sObject, objectRef } from './k8s-object.ts';

/**
 * The rules no schema checks, over one overlay's rendered objects: that the
 * manifests scale Socket.IO correctly (stickiness, graceful drain, scaling)
 * and that their parts refer to each other. Pure: objects and the facts of
 * the replica in, one problem per line out, each starting with its rule.
 */

/** What the replica itself serves and defaults to (from server/; see replica-facts.ts). */
export interface ReplicaFacts {
  /** Paths the replica answers. */
  servedPaths: ReadonlySet<string>;
  /** server/config.ts DEFAULTS for the variables a manifest may leave out. */
  defaults: Readonly<{ PORT: string; DRAIN_DELAY_MS: string; SHUTDOWN_TIMEOUT_MS: string }>;
}

/** The pod label that marks the replica (every selector that means "the replicas" uses it). */
export const REPLICA_LABEL = { key: 'app.kubernetes.io/name', value: 'wsk-server' } as const;
export const REPLICA_CONTAINER = 'server';
/** haproxy.cfg's `server-template replica 16`: more replicas than slots get no traffic. */
export const HAPROXY_SLOTS = 16;
/** Scaling in disconnects every client of the removed pods: no HPA may do it on a short lull. */
export const MIN_SCALE_DOWN_WINDOW_S = 600;

type Dict = Record<string, unknown>;

function at(value: unknown, ...path: Array<string | number>): unknown {
  let current = value;
  for (const key of path) {
    if (typeof key === 'number') current = Array.isArray(current) ? current[key] : undefined;
    else current = isRecord(current) ? current[key] : undefined;
  }
  return current;
}
const dict = (value: unknown): Dict => (isRecord(value) ? value : {});
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const labelsOf = (value: unknown): Record<string, string> => {
  const result: Record<string, string> = {};
  for (const [key, item] of Object.entries(dict(value))) if (typeof item === 'string') result[key] = item;
  return result;
};
/** A selector's matchLabels (or a Service's plain map) selects `labels` when every pair is there. */
function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  const pairs = Object.entries(selector);
  return pairs.length > 0 && pairs.every(([key, value]) => labels[key] === value);
}

interface Workload {
  object: K8sObject;
  labels: Record<string, string>;
  podSpec: Dict;
  containers: Dict[];
}

const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet']);

function workloadsOf(objects: readonly K8sObject[]): Workload[] {
  return objects
    .filter((object) => WORKLOAD_KINDS.has(object.kind))
    .map((object) => {
      const podSpec = dict(at(object, 'spec', 'template', 'spec'));
      return {
        object,
        labels: labelsOf(at(object, 'spec', 'template', 'metadata', 'labels')),
        podSpec,
        containers: list(podSpec.containers).map(dict),
      };
    });
}

function envValue(container: Dict, name: string): string | undefined {
  const entry = list(container.env).map(dict).find((item) => item.name === name);
  return typeof entry?.value === 'string' ? entry.value : undefined;
}

/** A port reference (name or number) resolved against a container's ports: the number, or undefined. */
function containerPort(container: Dict, port: unknown): number | undefined {
  const ports = list(container.ports).map(dict);
  if (typeof port === 'number') return ports.some((item) => item.containerPort === port) ? port : undefined;
  const named = ports.find((item) => item.name === port);
  return typeof named?.containerPort === 'number' ? named.containerPort : undefined;
}

function podPort(workload: Workload, port: unknown): number | undefined {
  for (const container of workload.containers) {
    const found = containerPort(container, port);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Seconds a preStop hook waits: exec `sleep N` (or `sh -c "sleep N"`) or the native sleep action; undefined when none. */
export function preStopSeconds(container: Dict): number | undefined {
  const preStop = dict(at(container, 'lifecycle', 'preStop'));
  const native = at(preStop, 'sleep', 'seconds');
  if (typeof native === 'number') return native;
  const command = list(at(preStop, 'exec', 'command')).filter((part): part is string => typeof part === 'string');
  const match = /(?:^|\s|;|&&)sleep\s+(\d+)(?:\s|;|$)/.exec(command.join(' '));
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

function wholeNumber(text: string | undefined, fallback: string): number {
  const value = text ?? fallback;
  return /^\d+$/.test(value) ? Number(value) : Number.NaN;
}

const isZero = (value: unknown): boolean => value === 0 || value === '0' || value === '0%';

function replicaChecks(replica: Workload, facts: ReplicaFacts, problems: string[]): void {
  const where = objectRef(replica.object);
  const container = replica.containers.find((item) => item.name === REPLICA_CONTAINER);
  if (!container) {
    problems.push(`replica: ${where} has no container named "${REPLICA_CONTAINER}"`);
    return;
  }
  const port = wholeNumber(envValue(container, 'PORT'), facts.defaults.PORT);
  if (!Number.isInteger(port)) problems.push(`ports: ${where} PORT is not a port number`);
  if (containerPort(container, port) === undefined) {
    problems.push(`ports: ${where} declares no containerPort ${port} (the replica listens on PORT=${port})`);
  }

  // Probes: the right endpoint for each job, on the port the replica serves.
  const probes = [
    { field: 'livenessProbe', path: '/healthz' },
    { field: 'readinessProbe', path: '/readyz' },
    { field: 'startupProbe', path: undefined },
  ] as const;
  for (const { field, path } of probes) {
    const probe = container[field];
    if (!isRecord(probe)) {
      problems.push(`probes: ${where} has no ${field}`);
      continue;
    }
    const httpGet = dict(probe.httpGet);
    const probePath = httpGet.path;
    if (typeof probePath !== 'string') {
      problems.push(`probes: ${where} ${field} is not an httpGet probe`);
      continue;
    }
    if (!facts.servedPaths.has(probePath)) problems.push(`probes: ${where} ${field} probes ${probePath}, which the replica does not serve`);
    if (path !== undefined && probePath !== path) problems.push(`probes: ${where} ${field} must probe ${path}, not ${probePath}`);
    if (field !== 'readinessProbe' && probePath === '/readyz') {
      problems.push(`probes: ${where} ${field} probes /readyz, which fails whenever Redis does: a Redis outage would restart every replica`);
    }
    if (containerPort(container, httpGet.port) !== port) {
      problems.push(`probes: ${where} ${field} port ${String(httpGet.port)} is not the replica's port ${port}`);
    }
  }

  // Drain: preStop + DRAIN_DELAY_MS + SHUTDOWN_TIMEOUT_MS must end before the kubelet's SIGKILL.
  const preStop = preStopSeconds(container);
  const grace = typeof replica.podSpec.terminationGracePeriodSeconds === 'number' ? replica.podSpec.terminationGracePeriodSeconds : 30;
  const drainMs = wholeNumber(envValue(container, 'DRAIN_DELAY_MS'), facts.defaults.DRAIN_DELAY_MS);
  const shutdownMs = wholeNumber(envValue(container, 'SHUTDOWN_TIMEOUT_MS'), facts.defaults.SHUTDOWN_TIMEOUT_MS);
  if (preStop === undefined) {
    problems.push(`drain: ${where} has no preStop delay: endpoints are removed asynchronously, so SIGTERM would race the proxies`);
  } else if (!(preStop * 1000 + drainMs + shutdownMs < grace * 1000)) {
    problems.push(
      `drain: ${where} preStop ${preStop} s + DRAIN_DELAY_MS ${drainMs} + SHUTDOWN_TIMEOUT_MS ${shutdownMs} must be shorter than terminationGracePeriodSeconds ${grace} s`,
    );
  }

  const strategy = dict(at(replica.object, 'spec', 'strategy'));
  if (replica.object.kind === 'Deployment') {
    const rolling = dict(strategy.rollingUpdate);
    if (strategy.type !== 'RollingUpdate' || !isZero(rolling.maxUnavailable) || isZero(rolling.maxSurge ?? 0)) {
      problems.push(`rollout: ${where} must roll with type RollingUpdate, maxUnavailable: 0 and a maxSurge above 0`);
    }
  }

  const replicaId = list(container.env).map(dict).find((item) => item.name === 'REPLICA_ID');
  if (at(replicaId, 'valueFrom', 'fieldRef', 'fieldPath') !== 'metadata.name') {
    problems.push(`replica: ${where} REPLICA_ID must come from the pod name (valueFrom.fieldRef.fieldPath: metadata.name)`);
  }

  const spread = list(replica.podSpec.topologySpreadConstraints).map(dict);
  if (!spread.some((constraint) => selects(labelsOf(at(constraint, 'labelSelector', 'matchLabels')), replica.labels))) {
    problems.push(`spread: ${where} has no topologySpreadConstraints selecting its own pods`);
  }

  const annotations = labelsOf(at(replica.object, 'spec', 'template', 'metadata', 'annotations'));
  if (annotations['prometheus.io/scrape'] !== 'true') problems.push(`scrape: ${where} pods lack prometheus.io/scrape: "true"`);
  if (annotations['prometheus.io/port'] !== String(port)) problems.push(`scrape: ${where} prometheus.io/port must be the replica's port ${port}`);
  const metricsPath = annotations['prometheus.io/path'] ?? '/metrics';
  if (!facts.servedPaths.has(metricsPath)) problems.push(`scrape: ${where} prometheus.io/path ${metricsPath} is not served by the replica`);

  const redisUrl = envValue(container, 'REDIS_URL') ?? '';
  if (/^rediss?:\/\/[^/]*:[^/@]+@/.test(redisUrl)) problems.push(`secrets: ${where} REDIS_URL carries a password; use REDIS_PASSWORD_FILE`);
}

function securityChecks(workload: Workload, problems: string[]): void {
  const where = objectRef(workload.object);
  const podContext = dict(workload.podSpec.securityContext);
  for (const container of workload.containers) {
    const name = `${where} container ${String(container.name)}`;
    const context = dict(container.securityContext);
    if ((context.runAsNonRoot ?? podContext.runAsNonRoot) !== true) problems.push(`security: ${name} must set runAsNonRoot: true`);
    if (context.readOnlyRootFilesystem !== true) problems.push(`security: ${name} must set readOnlyRootFilesystem: true`);
    if (context.allowPrivilegeEscalation !== false) problems.push(`security: ${name} must set allowPrivilegeEscalation: false`);
    const resources = dict(container.resources);
    const requests = dict(resources.requests);
    if (requests.cpu === undefined || requests.memory === undefined || at(resources, 'limits', 'memory') === undefined) {
      problems.push(`resources: ${name} needs cpu and memory requests and a memory limit`);
    }
  }
}

function selectorChecks(objects: readonly K8sObject[], workloads: readonly Workload[], problems: string[]): void {
  const services = objects.filter((object) => object.kind === 'Service');
  const serviceNamed = (name: unknown) => services.find((service) => service.metadata?.name === name);
  for (const workload of workloads) {
    const where = objectRef(workload.object);
    const matchLabels = labelsOf(at(workload.object, 'spec', 'selector', 'matchLabels'));
    if (!selects(matchLabels, workload.labels)) problems.push(`selectors: ${where} selector does not match its pod template's labels`);
    if (workload.object.kind === 'StatefulSet' && !serviceNamed(at(workload.object, 'spec', 'serviceName'))) {
      problems.push(`selectors: ${where} serviceName names no Service`);
    }
    for (const volume of list(workload.podSpec.volumes).map(dict)) {
      const configMap = dict(volume.configMap);
      if (typeof configMap.name !== 'string' || configMap.optional === true) continue;
      if (!objects.some((object) => object.kind === 'ConfigMap' && object.metadata?.name === configMap.name)) {
        problems.push(`selectors: ${where} mounts ConfigMap ${configMap.name}, which the overlay does not render`);
      }
    }
  }
  for (const service of services) {
    const selector = labelsOf(at(service, 'spec', 'selector'));
    if (Object.keys(selector).length === 0) continue;
    const selected = workloads.filter((workload) => selects(selector, workload.labels));
    if (selected.length === 0) {
      problems.push(`selectors: ${objectRef(service)} selects no pods`);
      continue;
    }
    for (const port of list(at(service, 'spec', 'ports')).map(dict)) {
      const target = port.targetPort ?? port.port;
      for (const workload of selected) {
        if (podPort(workload, target) === undefined) {
          problems.push(`ports: ${objectRef(service)} port ${String(port.name ?? port.port)} targets ${String(target)}, which ${objectRef(workload.object)} does not expose`);
        }
      }
    }
  }
  for (const pdb of objects.filter((object) => object.kind === 'PodDisruptionBudget')) {
    const selector = labelsOf(at(pdb, 'spec', 'selector', 'matchLabels'));
    if (!workloads.some((workload) => selects(selector, workload.labels))) problems.push(`selectors: ${objectRef(pdb)} selects no pods`);
  }
  for (const hpa of objects.filter((object) => object.kind === 'HorizontalPodAutoscaler')) {
    const target = dict(at(hpa, 'spec', 'scaleTargetRef'));
    if (!workloads.some((workload) => workload.object.kind === target.kind && workload.object.metadata?.name === target.name)) {
      problems.push(`selectors: ${objectRef(hpa)} scales ${String(target.kind)}/${String(target.name)}, which the overlay does not render`);
    }
  }
  for (const policy of objects.filter((object) => object.kind === 'NetworkPolicy')) {
    const selector = labelsOf(at(policy, 'spec', 'podSelector', 'matchLabels'));
    if (!workloads.some((workload) => selects(selector, workload.labels))) problems.push(`selectors: ${objectRef(policy)} podSelector selects no pods`);
    for (const rule of list(at(policy, 'spec', 'ingress')).map(dict)) {
      for (const peer of list(rule.from).map(dict)) {
        const peerLabels = labelsOf(at(peer, 'podSelector', 'matchLabels'));
        if (peer.podSelector !== undefined && !workloads.some((workload) => selects(peerLabels, workload.labels))) {
          problems.push(`selectors: ${objectRef(policy)} admits a podSelector that selects no pods`);
        }
      }
    }
  }
  for (const ingress of objects.filter((object) => object.kind === 'Ingress')) {
    const backends = list(at(ingress, 'spec', 'rules')).flatMap((rule) => list(at(rule, 'http', 'paths')).map((path) => dict(at(path, 'backend', 'service'))));
    for (const backend of backends) {
      const service = serviceNamed(backend.name);
      const port = dict(backend.port);
      const ports = list(at(service, 'spec', 'ports')).map(dict);
      if (!service) problems.push(`selectors: ${objectRef(ingress)} routes to Service ${String(backend.name)}, which the overlay does not render`);
      else if (!ports.some((item) => (port.name !== undefined ? item.name === port.name : item.port === port.number))) {
        problems.push(`ports: ${objectRef(ingress)} routes to a port Service ${String(backend.name)} does not have`);
      }
    }
  }
}

function scalingChecks(objects: readonly K8sObject[], replica: Workload, problems: string[]): void {
  const hpa = objects.find(
    (object) => object.kind === 'HorizontalPodAutoscaler' && at(object, 'spec', 'scaleTargetRef', 'name') === replica.object.metadata?.name,
  );
  if (!hpa) {
    problems.push(`hpa: no HorizontalPodAutoscaler scales ${objectRef(replica.object)}`);
  } else {
    const window = at(hpa, 'spec', 'behavior', 'scaleDown', 'stabilizationWindowSeconds');
    if (typeof window !== 'number' || window < MIN_SCALE_DOWN_WINDOW_S) {
      problems.push(`hpa: ${objectRef(hpa)} scaleDown.stabilizationWindowSeconds must be at least ${MIN_SCALE_DOWN_WINDOW_S}: scaling in disconnects clients`);
    }
    const max = at(hpa, 'spec', 'maxReplicas');
    if (typeof max !== 'number' || max > HAPROXY_SLOTS) problems.push(`hpa: ${objectRef(hpa)} maxReplicas must be at most ${HAPROXY_SLOTS} (haproxy.cfg slots)`);
  }
  const pdb = objects.some(
    (object) => object.kind === 'PodDisruptionBudget' && selects(labelsOf(at(object, 'spec', 'selector', 'matchLabels')), replica.labels),
  );
  if (!pdb) problems.push(`pdb: no PodDisruptionBudget covers ${objectRef(replica.object)}`);
}

function redisChecks(objects: readonly K8sObject[], workloads: readonly Workload[], replica: Workload, problems: string[]): void {
  const redis = workloads.find((workload) => workload.containers.some((container) => list(container.ports).map(dict).some((port) => port.containerPort === 6379)));
  if (!redis) {
    problems.push('redis: no workload serves Redis (containerPort 6379)');
    return;
  }
  const policies = objects.filter(
    (object) =>
      object.kind === 'NetworkPolicy' &&
      selects(labelsOf(at(object, 'spec', 'podSelector', 'matchLabels')), redis.labels) &&
      list(at(object, 'spec', 'policyTypes')).includes('Ingress'),
  );
  if (policies.length === 0) problems.push(`redis: no NetworkPolicy restricts who reaches ${objectRef(redis.object)}`);
  for (const policy of policies) {
    for (const rule of list(at(policy, 'spec', 'ingress')).map(dict)) {
      const peers = list(rule.from).map(dict);
      const onlyReplicas =
        peers.length > 0 &&
        peers.every((peer) => Object.keys(peer).length === 1 && selects(labelsOf(at(peer, 'podSelector', 'matchLabels')), replica.labels));
      if (!onlyReplicas) problems.push(`redis: ${objectRef(policy)} admits more than the replica pods`);
    }
  }
}

function affinityChecks(objects: readonly K8sObject[], workloads: readonly Workload[], replica: Workload, replicaPort: number, problems: string[]): void {
  let mechanisms = 0;
  // HAProxy: WSK_HEADLESS_SERVICE must name a headless Service of the replicas on WSK_SERVER_PORT.
  for (const workload of workloads) {
    for (const container of workload.containers) {
      const headless = envValue(container, 'WSK_HEADLESS_SERVICE');
      if (headless === undefined) continue;
      mechanisms += 1;
      const where = `${objectRef(workload.object)} container ${String(container.name)}`;
      const service = objects.find((object) => object.kind === 'Service' && object.metadata?.name === headless);
      const serverPort = wholeNumber(envValue(container, 'WSK_SERVER_PORT'), '');
      if (serverPort !== replicaPort) problems.push(`haproxy: ${where} WSK_SERVER_PORT ${serverPort} is not the replica's port ${replicaPort}`);
      if (!service) {
        problems.push(`haproxy: ${where} resolves Service ${headless}, which the overlay does not render`);
        continue;
      }
      if (at(service, 'spec', 'clusterIP') !== 'None') {
        problems.push(`haproxy: ${objectRef(service)} must be headless (clusterIP: None): a virtual IP is one server to HAProxy, and no affinity`);
      }
      if (at(service, 'spec', 'publishNotReadyAddresses') === true) {
        problems.push(`haproxy: ${objectRef(service)} publishes not-ready pods: draining replicas would stay in DNS`);
      }
      if (!selects(labelsOf(at(service, 'spec', 'selector')), replica.labels)) problems.push(`haproxy: ${objectRef(service)} does not select the replica pods`);
      const ports = list(at(service, 'spec', 'ports')).map(dict);
      if (!ports.some((port) => podPort(replica, port.targetPort ?? port.port) === replicaPort)) {
        problems.push(`haproxy: ${objectRef(service)} has no port reaching the replica's ${replicaPort}`);
      }
    }
  }
  for (const ingress of objects.filter((object) => object.kind === 'Ingress')) {
    const annotations = annotationsOf(ingress);
    const snippets = Object.keys(annotations).filter((key) => key.endsWith('-snippet') || key.endsWith('snippets'));
    if (snippets.length > 0) problems.push(`ingress: ${objectRef(ingress)} uses snippet annotations (${snippets.join(', ')}); many controllers refuse them`);
    if (annotations['nginx.ingress.kubernetes.io/affinity'] === undefined) continue;
    mechanisms += 1;
    if (annotations['nginx.ingress.kubernetes.io/affinity'] !== 'cookie') problems.push(`ingress: ${objectRef(ingress)} affinity must be "cookie"`);
    if (annotations['nginx.ingress.kubernetes.io/affinity-mode'] !== 'persistent') {
      problems.push(`ingress: ${objectRef(ingress)} affinity-mode must be "persistent": "balanced" moves live sessions when pods are added`);
    }
  }
  for (const service of objects.filter((object) => object.kind === 'Service' && at(object, 'spec', 'sessionAffinity') === 'ClientIP')) {
    mechanisms += 1;
    const type = at(service, 'spec', 'type');
    if ((type === 'LoadBalancer' || type === 'NodePort') && at(service, 'spec', 'externalTrafficPolicy') !== 'Local') {
      problems.push(`clientip: ${objectRef(service)} needs externalTrafficPolicy: Local, or kube-proxy rewrites client addresses and ClientIP affinity sees nodes`);
    }
  }
  if (mechanisms === 0) problems.push('affinity: nothing keeps a client on its replica (no HAProxy on a headless Service, no cookie Ingress, no ClientIP Service)');
}

function annotationsOf(object: K8sObject): Record<string, string> {
  return labelsOf(object.metadata?.annotations);
}

/** Every rule, over one overlay's rendered objects. */
export function ruleProblems(objects: readonly K8sObject[], facts: ReplicaFacts): string[] {
  const problems: string[] = [];
  for (const object of objects) {
    if (object.kind === 'Secret') problems.push(`secrets: ${objectRef(object)} is rendered from the repository; create it with kubectl create secret`);
  }
  const workloads = workloadsOf(objects);
  const replicas = workloads.filter((workload) => workload.object.kind === 'Deployment' && workload.labels[REPLICA_LABEL.key] === REPLICA_LABEL.value);
  for (const workload of workloads) securityChecks(workload, problems);
  selectorChecks(objects, workloads, problems);
  const [replica, ...others] = replicas;
  if (!replica || others.length > 0) {
    problems.push(`replica: expected one Deployment with pod label ${REPLICA_LABEL.key}=${REPLICA_LABEL.value}, found ${replicas.length}`);
    return problems;
  }
  replicaChecks(replica, facts, problems);
  scalingChecks(objects, replica, problems);
  redisChecks(objects, workloads, replica, problems);
  const container = replica.containers.find((item) => item.name === REPLICA_CONTAINER) ?? {};
  affinityChecks(objects, workloads, replica, wholeNumber(envValue(container, 'PORT'), facts.defaults.PORT), problems);
  return problems;
}
