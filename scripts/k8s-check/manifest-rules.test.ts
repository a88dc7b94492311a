import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { K8sObject } from './k8s-object.ts';
import { preStopSeconds, type ReplicaFacts, ruleProblems } from './manifest-rules.ts';

/** What server/ serves and defaults to, as literals (replica-facts.ts reads the real ones). */
const FACTS: ReplicaFacts = {
  servedPaths: new Set(['/healthz', '/readyz', '/metrics']),
  defaults: { PORT: '3000', DRAIN_DELAY_MS: '3000', SHUTDOWN_TIMEOUT_MS: '10000' },
};

const SERVER = { 'app.kubernetes.io/name': 'wsk-server' };
const REDIS = { 'app.kubernetes.io/name': 'wsk-redis' };
const HAPROXY = { 'app.kubernetes.io/name': 'wsk-haproxy' };
const SAFE = { runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false };
const RESOURCES = { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } };

/** A minimal, correct HAProxy overlay as rendered objects: every rule passes on it. */
function overlay(): K8sObject[] {
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'server' },
      spec: {
        selector: { matchLabels: SERVER },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
        template: {
          metadata: {
            labels: { ...SERVER },
            annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '3000', 'prometheus.io/path': '/metrics' },
          },
          spec: {
            terminationGracePeriodSeconds: 30,
            topologySpreadConstraints: [
              { maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: SERVER } },
            ],
            containers: [
              {
                name: 'server',
                image: 'wsk-server:local',
                ports: [{ name: 'http', containerPort: 3000 }],
                env: [
                  { name: 'PORT', value: '3000' },
                  { name: 'REPLICA_ID', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                  { name: 'REDIS_URL', value: 'redis://redis:6379' },
                  { name: 'DRAIN_DELAY_MS', value: '3000' },
                  { name: 'SHUTDOWN_TIMEOUT_MS', value: '10000' },
                ],
                livenessProbe: { httpGet: { path: '/healthz', port: 'http' } },
                readinessProbe: { httpGet: { path: '/readyz', port: 'http' } },
                startupProbe: { httpGet: { path: '/healthz', port: 3000 } },
                lifecycle: { preStop: { exec: { command: ['sleep', '5'] } } },
                resources: RESOURCES,
                securityContext: SAFE,
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'server-headless' },
      spec: { clusterIP: 'None', selector: SERVER, ports: [{ name: 'http', port: 3000, targetPort: 'http' }] },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'haproxy' },
      spec: {
        selector: { matchLabels: HAPROXY },
        template: {
          metadata: { labels: HAPROXY },
          spec: {
            containers: [
              {
                name: 'haproxy',
                ports: [{ name: 'http', containerPort: 8080 }],
                env: [
                  { name: 'WSK_HEADLESS_SERVICE', value: 'server-headless' },
                  { name: 'WSK_SERVER_PORT', value: '3000' },
                ],
                resources: RESOURCES,
                securityContext: SAFE,
                volumeMounts: [{ name: 'config', mountPath: '/usr/local/etc/haproxy' }],
              },
            ],
            volumes: [{ name: 'config', configMap: { name: 'haproxy-config-abc' } }],
          },
        },
      },
    },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'haproxy-config-abc' }, data: { 'haproxy.cfg': '' } },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'haproxy' },
      spec: { selector: HAPROXY, ports: [{ port: 8080, targetPort: 'http' }] },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'redis' },
      spec: {
        serviceName: 'redis',
        selector: { matchLabels: REDIS },
        template: {
          metadata: { labels: REDIS },
          spec: {
            containers: [{ name: 'redis', ports: [{ name: 'redis', containerPort: 6379 }], resources: RESOURCES, securityContext: SAFE }],
          },
        },
      },
    },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'redis' }, spec: { selector: REDIS, ports: [{ port: 6379, targetPort: 'redis' }] } },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'redis-from-replicas-only' },
      spec: {
        podSelector: { matchLabels: REDIS },
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ podSelector: { matchLabels: SERVER } }], ports: [{ port: 6379 }] }],
      },
    },
    { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'server' }, spec: { maxUnavailable: 1, selector: { matchLabels: SERVER } } },
    {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'server' },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'server' },
        minReplicas: 3,
        maxReplicas: 16,
        behavior: { scaleDown: { stabilizationWindowSeconds: 1800 } },
      },
    },
  ];
}

// Fixtures are broken by reaching into them by path; typing every level would hide the break.
// biome-ignore lint/suspicious/noExplicitAny: test-only fixture access
type Mutable = Record<string, any>;
const find = (objects: K8sObject[], kind: string, name: string): Mutable => {
  const found = objects.find((object) => object.kind === kind && object.metadata?.name === name);
  assert.ok(found, `${kind}/${name} in the fixture`);
  return found as Mutable;
};
const replica = (objects: K8sObject[]) => find(objects, 'Deployment', 'server');
const container = (objects: K8sObject[]) => replica(objects).spec.template.spec.containers[0];
const envOf = (objects: K8sObject[], name: string) => container(objects).env.find((entry: { name: string }) => entry.name === name);

/** One broken rule each: the description, how to break the fixture, and the problem that must appear. */
const BREAKS: Array<[string, (objects: K8sObject[]) => void, RegExp]> = [
  ['no readiness probe', (o) => delete container(o).readinessProbe, /^probes: .*no readinessProbe/],
  ['readiness on a path the replica does not serve', (o) => (container(o).readinessProbe.httpGet.path = '/ready'), /^probes: .*\/ready, which the replica does not serve/],
  ['liveness tied to Redis (/readyz)', (o) => (container(o).livenessProbe.httpGet.path = '/readyz'), /^probes: .*livenessProbe probes \/readyz, which fails whenever Redis does/],
  ['no startup probe', (o) => delete container(o).startupProbe, /^probes: .*no startupProbe/],
  ['probe on another port', (o) => (container(o).readinessProbe.httpGet.port = 8080), /^probes: .*readinessProbe port 8080 is not the replica's port 3000/],
  ['a TCP liveness probe', (o) => (container(o).livenessProbe = { tcpSocket: { port: 'http' } }), /^probes: .*livenessProbe is not an httpGet probe/],
  ['no preStop', (o) => delete container(o).lifecycle, /^drain: .*no preStop delay/],
  ['grace period shorter than preStop + drain', (o) => (replica(o).spec.template.spec.terminationGracePeriodSeconds = 18), /^drain: .*preStop 5 s \+ DRAIN_DELAY_MS 3000 \+ SHUTDOWN_TIMEOUT_MS 10000 must be shorter than terminationGracePeriodSeconds 18 s/],
  ['a longer SHUTDOWN_TIMEOUT_MS than the grace period allows', (o) => (envOf(o, 'SHUTDOWN_TIMEOUT_MS').value = '25000'), /^drain: .*SHUTDOWN_TIMEOUT_MS 25000/],
  ['the default grace period (30 s) with a 20 s preStop', (o) => { delete replica(o).spec.template.spec.terminationGracePeriodSeconds; container(o).lifecycle.preStop.exec.command = ['sleep', '20']; }, /^drain: .*terminationGracePeriodSeconds 30 s/],
  ['maxUnavailable 1', (o) => (replica(o).spec.strategy.rollingUpdate.maxUnavailable = 1), /^rollout: /],
  ['Recreate strategy', (o) => (replica(o).spec.strategy = { type: 'Recreate' }), /^rollout: /],
  ['REPLICA_ID a literal', (o) => (envOf(o, 'REPLICA_ID').valueFrom = undefined), /^replica: .*REPLICA_ID must come from the pod name/],
  ['container port not PORT', (o) => (envOf(o, 'PORT').value = '4000'), /^ports: .*declares no containerPort 4000/],
  ['no topology spread', (o) => delete replica(o).spec.template.spec.topologySpreadConstraints, /^spread: /],
  ['no scrape annotation', (o) => delete replica(o).spec.template.metadata.annotations['prometheus.io/scrape'], /^scrape: .*prometheus.io\/scrape/],
  ['scrape on a wrong path', (o) => (replica(o).spec.template.metadata.annotations['prometheus.io/path'] = '/prometheus'), /^scrape: .*\/prometheus is not served/],
  ['password in REDIS_URL', (o) => (envOf(o, 'REDIS_URL').value = 'redis://:hunter2@redis:6379'), /^secrets: .*REDIS_URL carries a password/],
  ['a Secret rendered', (o) => o.push({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'wsk-secrets' } }), /^secrets: Secret\/wsk-secrets is rendered/],
  ['root allowed', (o) => (container(o).securityContext = { ...SAFE, runAsNonRoot: false }), /^security: Deployment\/server container server must set runAsNonRoot/],
  ['writable root filesystem', (o) => (find(o, 'StatefulSet', 'redis').spec.template.spec.containers[0].securityContext = { runAsNonRoot: true, allowPrivilegeEscalation: false }), /^security: StatefulSet\/redis container redis must set readOnlyRootFilesystem/],
  ['no resources', (o) => delete container(o).resources, /^resources: Deployment\/server container server/],
  ['selector not matching the template', (o) => (replica(o).spec.selector.matchLabels = { app: 'server' }), /^selectors: Deployment\/server selector does not match/],
  ['Service selecting nothing', (o) => (find(o, 'Service', 'redis').spec.selector = { 'app.kubernetes.io/name': 'redis' }), /^selectors: Service\/redis selects no pods/],
  ['Service targeting a port the pods lack', (o) => (find(o, 'Service', 'haproxy').spec.ports[0].targetPort = 'web'), /^ports: Service\/haproxy port 8080 targets web/],
  ['StatefulSet serviceName missing', (o) => (find(o, 'StatefulSet', 'redis').spec.serviceName = 'redis-headless'), /^selectors: StatefulSet\/redis serviceName names no Service/],
  ['ConfigMap volume not rendered', (o) => (find(o, 'Deployment', 'haproxy').spec.template.spec.volumes[0].configMap.name = 'haproxy-cfg'), /^selectors: .*mounts ConfigMap haproxy-cfg/],
  ['PDB selecting nothing', (o) => (find(o, 'PodDisruptionBudget', 'server').spec.selector.matchLabels = { app: 'server' }), /^selectors: PodDisruptionBudget\/server selects no pods/],
  ['HPA target missing', (o) => (find(o, 'HorizontalPodAutoscaler', 'server').spec.scaleTargetRef.name = 'replicas'), /^selectors: .*scales Deployment\/replicas/],
  ['HPA scale-down window short', (o) => (find(o, 'HorizontalPodAutoscaler', 'server').spec.behavior.scaleDown.stabilizationWindowSeconds = 300), /^hpa: .*stabilizationWindowSeconds must be at least 600/],
  ['HPA above the HAProxy slots', (o) => (find(o, 'HorizontalPodAutoscaler', 'server').spec.maxReplicas = 20), /^hpa: .*maxReplicas must be at most 16/],
  ['no HPA', (o) => o.splice(o.findIndex((x) => x.kind === 'HorizontalPodAutoscaler'), 1), /^hpa: no HorizontalPodAutoscaler/],
  ['no PDB', (o) => o.splice(o.findIndex((x) => x.kind === 'PodDisruptionBudget'), 1), /^pdb: no PodDisruptionBudget/],
  ['Redis open to everyone', (o) => o.splice(o.findIndex((x) => x.kind === 'NetworkPolicy'), 1), /^redis: no NetworkPolicy/],
  ['Redis open to a namespace too', (o) => find(o, 'NetworkPolicy', 'redis-from-replicas-only').spec.ingress[0].from.push({ namespaceSelector: {} }), /^redis: .*admits more than the replica pods/],
  ['headless Service with a cluster IP', (o) => delete find(o, 'Service', 'server-headless').spec.clusterIP, /^haproxy: Service\/server-headless must be headless/],
  ['headless Service publishing not-ready pods', (o) => (find(o, 'Service', 'server-headless').spec.publishNotReadyAddresses = true), /^haproxy: .*publishes not-ready pods/],
  ['HAProxy resolving a Service that is not there', (o) => (find(o, 'Deployment', 'haproxy').spec.template.spec.containers[0].env[0].value = 'server'), /^haproxy: .*resolves Service server, which the overlay does not render/],
  ['HAProxy on the wrong replica port', (o) => (find(o, 'Deployment', 'haproxy').spec.template.spec.containers[0].env[1].value = '8080'), /^haproxy: .*WSK_SERVER_PORT 8080 is not the replica's port 3000/],
  ['no affinity at all', (o) => { const h = find(o, 'Deployment', 'haproxy'); h.spec.template.spec.containers[0].env = []; }, /^affinity: nothing keeps a client/],
];

describe('manifest rules', () => {
  it('pass on a correct overlay', () => {
    assert.deepEqual(ruleProblems(overlay(), FACTS), []);
  });

  for (const [what, breakIt, expected] of BREAKS) {
    it(`fail on: ${what}`, () => {
      const objects = overlay();
      breakIt(objects);
      const problems = ruleProblems(objects, FACTS);
      assert.ok(problems.some((problem) => expected.test(problem)), `expected ${expected}, got:\n${problems.join('\n')}`);
    });
  }

  it('checks an ingress-nginx Ingress: cookie, persistent, no snippets, a real backend', () => {
    const ingress = (annotations: Record<string, string>, port: object = { name: 'http' }): K8sObject[] => {
      const objects = overlay().filter((object) => object.metadata?.name !== 'haproxy');
      objects.push({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'server' }, spec: { selector: SERVER, ports: [{ name: 'http', port: 3000, targetPort: 'http' }] } });
      objects.push({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'Ingress',
        metadata: { name: 'server', annotations },
        spec: { rules: [{ http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'server', port } } }] } }] },
      });
      return objects;
    };
    const good = { 'nginx.ingress.kubernetes.io/affinity': 'cookie', 'nginx.ingress.kubernetes.io/affinity-mode': 'persistent' };
    assert.deepEqual(ruleProblems(ingress(good), FACTS), []);
    assert.match(ruleProblems(ingress({ ...good, 'nginx.ingress.kubernetes.io/affinity-mode': 'balanced' }), FACTS).join('\n'), /^ingress: .*affinity-mode must be "persistent"/m);
    assert.match(ruleProblems(ingress({ ...good, 'nginx.ingress.kubernetes.io/configuration-snippet': 'more_set_headers x;' }), FACTS).join('\n'), /^ingress: .*snippet annotations/m);
    assert.match(ruleProblems(ingress(good, { number: 80 }), FACTS).join('\n'), /^ports: Ingress\/server routes to a port/m);
  });

  it('checks a ClientIP Service: externalTrafficPolicy Local when exposed', () => {
    const clientIp = (policy: string): K8sObject[] => [
      ...overlay().filter((object) => object.metadata?.name !== 'haproxy'),
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'server' },
        spec: { type: 'LoadBalancer', externalTrafficPolicy: policy, sessionAffinity: 'ClientIP', selector: SERVER, ports: [{ port: 3000, targetPort: 'http' }] },
      },
    ];
    assert.deepEqual(ruleProblems(clientIp('Local'), FACTS), []);
    assert.match(ruleProblems(clientIp('Cluster'), FACTS).join('\n'), /^clientip: .*externalTrafficPolicy: Local/m);
  });

  it('reads preStop delays in every form', () => {
    assert.equal(preStopSeconds({ lifecycle: { preStop: { exec: { command: ['sleep', '5'] } } } }), 5);
    assert.equal(preStopSeconds({ lifecycle: { preStop: { exec: { command: ['sh', '-c', 'sleep 7'] } } } }), 7);
    assert.equal(preStopSeconds({ lifecycle: { preStop: { sleep: { seconds: 4 } } } }), 4);
    assert.equal(preStopSeconds({ lifecycle: { preStop: { exec: { command: ['nginx', '-s', 'quit'] } } } }), undefined);
    assert.equal(preStopSeconds({}), undefined);
  });
});
