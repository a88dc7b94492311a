// The fake `kubectl` behind test/fake-kubectl/kubectl. It appends one JSON
// line per invocation to $FAKE_KUBECTL_LOG ({ argv, stdinBytes, applied?,
// kustomization?, secrets? }) and answers like kubectl 1.32 against a
// one-node cluster would, from a small state file ($FAKE_KUBECTL_STATE), so
// `get` reflects earlier `apply`, `scale` and `exec ... kill`.
//
// Knobs (environment):
//   FAKE_KUBECTL_CLUSTER=down      no API server: `version` prints the client
//                                  version and "connection refused", exit 1
//   FAKE_KUBECTL_FORWARD=fail      `port-forward` exits 1 with kubectl's error
//   FAKE_KUBECTL_FAIL_ON=TEXT      fail any command whose argv, joined by spaces, contains TEXT
//
// Secrets never reach the log: only whether each looks like a random hex value.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const argv = process.argv.slice(2);
const env = process.env;
const joined = argv.join(' ');

const CLIENT_VERSION = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.4',
  gitCommit: '59526cd4867447956156ae3a602fcbac10a2c335',
  gitTreeState: 'clean',
  buildDate: '2025-04-22T16:03:51Z',
  goVersion: 'go1.23.6',
  compiler: 'gc',
  platform: 'linux/amd64',
};
const SERVER_VERSION = { ...CLIENT_VERSION, minor: '31', gitVersion: 'v1.31.2', gitCommit: '5864a4677267e6adeae276ad85882a8714d69d9d', buildDate: '2024-10-22T20:28:14Z', goVersion: 'go1.22.8' };
const REFUSED = 'The connection to the server 127.0.0.1:6443 was refused - did you specify the right host or port?\n';
// ReplicaSet hash + pod suffixes as a Deployment would name them.
const POD_SUFFIXES = ['x7k2p', 'm4n8q', 'r2t6v', 'b9c3w', 'h5j7z', 'd3f8g', 'k6l9m', 'p2q4s', 't7v9w', 'y3z5a', 'c8e2f', 'g4h6j', 'n7p9q', 's2t4v', 'w6x8y', 'a3b5c'];
const podName = (index) => `server-5f7d9c8b6d-${POD_SUFFIXES[index]}`;

function readState() {
  const fresh = { namespace: '', replicas: 0, redis: 0, restarts: {} };
  const file = env.FAKE_KUBECTL_STATE;
  if (!file || !existsSync(file)) return fresh;
  return { ...fresh, ...JSON.parse(readFileSync(file, 'utf8')) };
}
function writeState(state) {
  if (env.FAKE_KUBECTL_STATE) writeFileSync(env.FAKE_KUBECTL_STATE, JSON.stringify(state));
}
function record(extra) {
  if (env.FAKE_KUBECTL_LOG) appendFileSync(env.FAKE_KUBECTL_LOG, `${JSON.stringify({ argv, ...extra })}\n`);
}
const out = (text) => process.stdout.write(text);
function fail(message, code = 1) {
  process.stderr.write(message);
  process.exit(code);
}
const flag = (name) => {
  const index = argv.indexOf(name);
  return index >= 0 ? argv[index + 1] : undefined;
};

const state = readState();
let stdin = '';
if (argv[0] === 'apply' && flag('-f') === '-') stdin = readFileSync(0, 'utf8');

// kustomize: record the run's kustomization (and whether its secrets look random), render a short stream.
const extra = {};
if (argv[0] === 'kustomize') {
  const dir = argv.at(-1);
  extra.kustomization = JSON.parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8'));
  const secrets = existsSync(join(dir, 'secrets.env')) ? readFileSync(join(dir, 'secrets.env'), 'utf8') : '';
  extra.secrets = Object.fromEntries(secrets.split('\n').filter(Boolean).map((line) => [line.split('=')[0], /^[0-9a-f]{32,}$/.test(line.slice(line.indexOf('=') + 1))]));
}
if (argv[0] === 'apply') {
  extra.stdinBytes = Buffer.byteLength(stdin);
  extra.applied = [...stdin.matchAll(/^kind: (\w+)$/gm)].map((match) => match[1]);
}
record(extra);

if (env.FAKE_KUBECTL_FAIL_ON && joined.includes(env.FAKE_KUBECTL_FAIL_ON)) {
  fail(`Error from server (InternalError): fake failure for "${env.FAKE_KUBECTL_FAIL_ON}"\n`);
}
const clusterDown = env.FAKE_KUBECTL_CLUSTER === 'down';

if (argv[0] === 'version') {
  if (clusterDown) {
    out(`${JSON.stringify({ clientVersion: CLIENT_VERSION, kustomizeVersion: 'v5.5.0' }, null, 2)}\n`);
    fail(REFUSED);
  }
  out(`${JSON.stringify({ clientVersion: CLIENT_VERSION, kustomizeVersion: 'v5.5.0', serverVersion: SERVER_VERSION }, null, 2)}\n`);
  process.exit(0);
}
if (argv[0] === 'kustomize') {
  const k = extra.kustomization;
  const count = k.replicas?.[0]?.count ?? 3;
  out(
    [
      `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${k.namespace}\n`,
      `apiVersion: v1\nkind: Secret\nmetadata:\n  name: wsk-secrets\n  namespace: ${k.namespace}\ntype: Opaque\n`,
      `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: server\n  namespace: ${k.namespace}\nspec:\n  replicas: ${count}\n`,
      `apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: redis\n  namespace: ${k.namespace}\nspec:\n  replicas: 1\n`,
    ].join('---\n'),
  );
  process.exit(0);
}
if (clusterDown) fail(REFUSED);

const ns = flag('-n');
const notFound = (what) => fail(`Error from server (NotFound): ${what} not found\n`);

switch (argv[0]) {
  case 'apply': {
    state.namespace = /^kind: Namespace\nmetadata:\n {2}name: (\S+)/m.exec(stdin)?.[1] ?? '';
    state.replicas = Number(/kind: Deployment\nmetadata:\n {2}name: server\n[\s\S]*?replicas: (\d+)/.exec(stdin)?.[1] ?? 0);
    state.redis = 1;
    writeState(state);
    out(`namespace/${state.namespace} created\nsecret/wsk-secrets created\ndeployment.apps/server created\nstatefulset.apps/redis created\n`);
    break;
  }
  case 'rollout': {
    if (ns !== state.namespace) notFound(`namespaces "${ns}"`);
    const [kind, name] = argv[4].split('/');
    if (kind === 'statefulset') out(`partitioned roll out complete: 1 new pods have been updated...\n`);
    else out(`deployment "${name}" successfully rolled out\n`);
    break;
  }
  case 'scale': {
    const target = argv[3];
    const replicas = Number(/--replicas=(\d+)/.exec(joined)?.[1]);
    if (target === 'deployment/server') state.replicas = replicas;
    else if (target === 'statefulset/redis') state.redis = replicas;
    else notFound(target);
    writeState(state);
    out(`${target.replace('deployment/', 'deployment.apps/').replace('statefulset/', 'statefulset.apps/')} scaled\n`);
    break;
  }
  case 'get': {
    if (ns !== state.namespace) {
      out(`${JSON.stringify({ apiVersion: 'v1', items: [], kind: 'List', metadata: { resourceVersion: '' } }, null, 4)}\n`);
      break;
    }
    const pods = Array.from({ length: state.replicas }, (_, index) => ({ name: podName(index), ip: `10.244.0.${11 + index}` }));
    if (argv[1] === 'pods') {
      const items = pods.map((pod) => ({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: pod.name, namespace: ns, labels: { 'app.kubernetes.io/name': 'wsk-server', 'pod-template-hash': '5f7d9c8b6d' }, uid: `0b7e${pod.ip.replaceAll('.', '')}` },
        spec: { containers: [{ name: 'server', image: 'wsk-server:local' }] },
        status: {
          phase: 'Running',
          podIP: pod.ip,
          podIPs: [{ ip: pod.ip }],
          conditions: [{ type: 'Ready', status: 'True' }],
          containerStatuses: [{ name: 'server', ready: true, restartCount: state.restarts[pod.name] ?? 0, started: true, state: { running: { startedAt: '2026-12-01T19:40:02Z' } } }],
        },
      }));
      out(`${JSON.stringify({ apiVersion: 'v1', items, kind: 'List', metadata: { resourceVersion: '' } }, null, 4)}\n`);
    } else if (argv[1] === 'endpointslices') {
      const service = /kubernetes\.io\/service-name=(\S+)/.exec(joined)?.[1];
      const items = [
        {
          addressType: 'IPv4',
          apiVersion: 'discovery.k8s.io/v1',
          kind: 'EndpointSlice',
          metadata: { name: `${service}-7xk2d`, namespace: ns, labels: { 'kubernetes.io/service-name': service } },
          endpoints: pods.map((pod) => ({
            addresses: [pod.ip],
            conditions: { ready: true, serving: true, terminating: false },
            nodeName: 'kind-control-plane',
            targetRef: { kind: 'Pod', name: pod.name, namespace: ns, uid: `0b7e${pod.ip.replaceAll('.', '')}` },
          })),
          ports: [{ name: 'http', port: 3000, protocol: 'TCP' }],
        },
      ];
      out(`${JSON.stringify({ apiVersion: 'v1', items, kind: 'List', metadata: { resourceVersion: '' } }, null, 4)}\n`);
    } else {
      fail(`error: the server doesn't have a resource type "${argv[1]}"\n`);
    }
    break;
  }
  case 'exec': {
    const pod = argv[3];
    const index = POD_SUFFIXES.findIndex((_, i) => podName(i) === pod);
    if (ns !== state.namespace || index < 0 || index >= state.replicas) notFound(`pods "${pod}"`);
    // The kubelet restarts the container at once here (a real one: after its back-off).
    state.restarts[pod] = (state.restarts[pod] ?? 0) + 1;
    writeState(state);
    break;
  }
  case 'wait': {
    if (state.redis !== 0) fail('error: timed out waiting for the condition on pods/redis-0\n');
    out('pod/redis-0 condition met\n');
    break;
  }
  case 'port-forward': {
    if (env.FAKE_KUBECTL_FORWARD === 'fail') fail('error: unable to forward port because pod is not running. Current status=Pending\n');
    const remote = argv[4].replace(':', '');
    out(`Forwarding from 127.0.0.1:38017 -> ${remote}\n`);
    // Like the real one: runs until stopped.
    setInterval(() => undefined, 60_000);
    process.on('SIGTERM', () => process.exit(0));
    break;
  }
  case 'logs': {
    out(`[pod/${podName(0)}/server] 2026-12-01T19:40:03.123456789Z {"level":30,"msg":"listening"}\n`);
    break;
  }
  case 'delete': {
    if (argv[1] === 'namespace') {
      if (argv[2] === state.namespace) out(`namespace "${argv[2]}" deleted\n`);
      writeState({ ...state, namespace: '', replicas: 0, redis: 0 });
    }
    break;
  }
  default:
    fail(`error: unknown command "${argv[0]}" for "kubectl"\n`);
}
