import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parseManifests } from '../../scripts/k8s-check/parse-manifests.ts';
import { type FakeKubectl, useFakeKubectl } from '../../test/fake-kubectl/fake-kubectl.ts';
import type { RoutingWait } from '../container/routing-wait.ts';
import { REPO_ROOT } from '../lib/repo-root.ts';
import type { TopologyOptions } from '../topology.ts';
import { ClusterUnavailableError } from './cluster-check.ts';
import { parsePods, parseReadyEndpoints, parseServerVersion } from './kube-objects.ts';
import { portForwardArgs, signalReplicaArgs } from './kubectl-commands.ts';
import { createK8sDriver, HAPROXY_PLAN, k8sDriver } from './k8s-topology.ts';
import { imageOverride, runKustomization } from './run-kustomization.ts';

const NS = 'wsk-test';
const OPTIONS: TopologyOptions = { kind: 'k8s', proxy: 'haproxy', replicas: 3, adapter: 'redis' };
const POD = (suffix: string) => `server-5f7d9c8b6d-${suffix}`;
const GET_PODS = ['get', 'pods', '-n', NS, '-l', 'app.kubernetes.io/name=wsk-server', '-o', 'json'];
const GET_SLICES = (service: string) => ['get', 'endpointslices', '-n', NS, '-l', `kubernetes.io/service-name=${service}`, '-o', 'json'];

function recordingProbe() {
  const calls: Array<{ url: string; ids: string[]; affinity: string }> = [];
  return {
    calls,
    probe: async (url: string, ids: readonly string[], options: RoutingWait) => {
      calls.push({ url, ids: [...ids], affinity: options.affinity });
    },
  };
}

function driverWith(fake: Pick<FakeKubectl, 'runner' | 'env'>, probe = recordingProbe().probe) {
  return createK8sDriver({
    runner: fake.runner,
    spawnEnv: fake.env,
    routingProbe: probe,
    namespace: () => NS,
    image: 'registry.example.com/wsk-server:1.4.0',
    timeouts: { restartMs: 5_000, scaleMs: 5_000, commandMs: 10_000 },
  });
}

describe('k8s commands and parsers (pure)', () => {
  it('builds the signal and port-forward argv', () => {
    assert.deepEqual(signalReplicaArgs('ns', 'server-a', 'SIGTERM'), ['exec', '-n', 'ns', 'server-a', '-c', 'server', '--', 'sh', '-c', 'kill -s TERM -- -1']);
    assert.deepEqual(signalReplicaArgs('ns', 'server-a', 'SIGKILL').at(-1), 'kill -s KILL -- -1');
    assert.deepEqual(portForwardArgs('ns', 'svc/haproxy', 8080), ['port-forward', '-n', 'ns', 'svc/haproxy', ':8080', '--address', '127.0.0.1']);
  });

  it('drives the HAProxy overlay on the headless Service', () => {
    assert.deepEqual(HAPROXY_PLAN, {
      overlay: 'haproxy',
      endpointsService: 'server-headless',
      forward: { target: 'svc/haproxy', port: 8080 },
      affinity: 'cookie',
      rollouts: ['deployment/haproxy'],
    });
  });

  it('parses kubectl version, EndpointSlices (ready only) and pods', () => {
    assert.equal(parseServerVersion('{"clientVersion":{"gitVersion":"v1.32.4"},"serverVersion":{"gitVersion":"v1.31.2"}}'), 'v1.31.2');
    assert.equal(parseServerVersion('{"clientVersion":{"gitVersion":"v1.32.4"}}'), undefined);
    const slices = JSON.stringify({
      kind: 'List',
      items: [
        {
          kind: 'EndpointSlice',
          endpoints: [
            { addresses: ['10.244.1.7'], conditions: { ready: true }, targetRef: { kind: 'Pod', name: 'server-b' } },
            { addresses: ['10.244.1.8'], conditions: { ready: false, serving: true, terminating: true }, targetRef: { kind: 'Pod', name: 'server-c' } },
            { addresses: ['10.244.1.6'], conditions: {}, targetRef: { kind: 'Pod', name: 'server-a' } },
          ],
        },
        { kind: 'EndpointSlice', endpoints: null },
      ],
    });
    assert.deepEqual(parseReadyEndpoints(slices), [
      { pod: 'server-a', address: '10.244.1.6' },
      { pod: 'server-b', address: '10.244.1.7' },
    ]);
    const pods = JSON.stringify({
      kind: 'List',
      items: [
        {
          metadata: { name: 'server-a', deletionTimestamp: '2026-12-01T19:40:00Z' },
          status: {
            phase: 'Running',
            podIP: '10.244.1.6',
            containerStatuses: [
              { name: 'istio-proxy', restartCount: 9, state: { running: {} } },
              { name: 'server', ready: true, restartCount: 2, state: { running: { startedAt: '2026-12-01T19:40:02Z' } } },
            ],
          },
        },
        { metadata: { name: 'server-b' }, status: { phase: 'Pending' } },
        {
          metadata: { name: 'server-c' },
          status: { phase: 'Running', podIP: '10.244.1.9', containerStatuses: [{ name: 'server', ready: false, restartCount: 4, state: { waiting: { reason: 'CrashLoopBackOff' } } }] },
        },
      ],
    });
    assert.deepEqual(parsePods(pods, 'server'), [
      { name: 'server-a', phase: 'Running', podIp: '10.244.1.6', deleting: true, restarts: 2, ready: true, running: true },
      { name: 'server-b', phase: 'Pending', podIp: '', deleting: false, restarts: 0, ready: false, running: false },
      { name: 'server-c', phase: 'Running', podIp: '10.244.1.9', deleting: false, restarts: 4, ready: false, running: false },
    ]);
    assert.throws(() => parsePods('error: You must be logged in', 'server'), /kubectl get pods: not JSON/);
  });

  it('splits image references for kustomize', () => {
    assert.deepEqual(imageOverride('registry.example.com:5000/team/wsk-server:1.4.0'), { name: 'wsk-server', newName: 'registry.example.com:5000/team/wsk-server', newTag: '1.4.0' });
    assert.deepEqual(imageOverride('registry.example.com:5000/wsk-server'), { name: 'wsk-server', newName: 'registry.example.com:5000/wsk-server' });
    assert.deepEqual(imageOverride('ghcr.io/x/wsk@sha256:abc'), { name: 'wsk-server', newName: 'ghcr.io/x/wsk', digest: 'sha256:abc' });
  });
});

describe('the run kustomization, rendered by the real kubectl', () => {
  it('puts the overlay in the run namespace with the image, count, adapter, env and secrets, and no HPA', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wsk-k8s-run-test-'));
    try {
      const files = runKustomization({
        overlayPath: relative(dir, join(REPO_ROOT, 'k8s', 'overlays', 'haproxy')),
        namespace: 'wsk-run-1',
        image: 'registry.example.com/wsk-server:1.4.0',
        replicas: 5,
        adapter: 'redis-streams',
        replicaEnv: { CORS_ORIGINS: 'http://app.test' },
        secrets: { redisPassword: 'a'.repeat(48), cookieKey: 'b'.repeat(48), statsPassword: 'c'.repeat(48) },
      });
      for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
      const { stdout } = await promisify(execFile)('kubectl', ['kustomize', '--load-restrictor', 'LoadRestrictionsNone', dir]);
      const objects = parseManifests(stdout);
      assert.equal(objects[0]?.kind, 'Namespace', 'the namespace is created first');
      assert.ok(objects.every((object) => object.kind === 'Namespace' || object.metadata?.namespace === 'wsk-run-1'));
      assert.ok(!objects.some((object) => object.kind === 'HorizontalPodAutoscaler'), 'no HPA fighting kubectl scale');
      const server = objects.find((object) => object.kind === 'Deployment' && object.metadata?.name === 'server') as unknown as {
        spec: { replicas: number; template: { spec: { containers: Array<{ image: string; env: Array<{ name: string; value?: string }> }> } } };
      };
      assert.equal(server.spec.replicas, 5);
      const container = server.spec.template.spec.containers[0];
      assert.equal(container?.image, 'registry.example.com/wsk-server:1.4.0');
      assert.deepEqual(container?.env.filter((entry) => entry.name === 'ADAPTER'), [{ name: 'ADAPTER', value: 'redis-streams' }], 'replaced, not duplicated');
      assert.ok(container?.env.some((entry) => entry.name === 'CORS_ORIGINS' && entry.value === 'http://app.test'));
      const secret = objects.find((object) => object.kind === 'Secret') as unknown as { metadata: { name: string }; data: Record<string, string> };
      assert.equal(secret.metadata.name, 'wsk-secrets', 'the name the manifests refer to, without a hash suffix');
      assert.deepEqual(Object.keys(secret.data).sort(), ['cookie-key', 'redis-password', 'stats-password']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('k8s driver against the fake kubectl', () => {
  it('issues the exact commands for up, scale, kill, start, redis stop/start and down', async () => {
    await using fake = await useFakeKubectl();
    const routing = recordingProbe();
    const logDir = await mkdtemp(join(tmpdir(), 'wsk-k8s-logs-'));
    // `await using`: a failed assertion still stops the port-forward and deletes the namespace.
    await using topology = await driverWith(fake, routing.probe).up({ ...OPTIONS, logDir, replicaEnv: { RATE_LIMIT_EVENTS_PER_SEC: '0' } });

    const calls = await fake.calls();
    const render = calls[1];
    assert.deepEqual(calls.map((call) => call.argv), [
      ['version', '-o', 'json', '--request-timeout=5s'],
      ['kustomize', '--load-restrictor', 'LoadRestrictionsNone', render?.argv[3] ?? ''],
      ['apply', '-f', '-'],
      ['rollout', 'status', '-n', NS, 'statefulset/redis', '--timeout=600s'],
      ['rollout', 'status', '-n', NS, 'deployment/server', '--timeout=600s'],
      ['rollout', 'status', '-n', NS, 'deployment/haproxy', '--timeout=600s'],
      GET_PODS,
      GET_SLICES('server-headless'),
      ['port-forward', '-n', NS, 'svc/haproxy', ':8080', '--address', '127.0.0.1'],
    ]);
    const kustomization = render?.kustomization as { namespace: string; resources: string[]; images: unknown[]; replicas: unknown[]; patches: Array<{ patch: string }> };
    assert.equal(kustomization.namespace, NS);
    assert.match(kustomization.resources[1] ?? '', /^(\.\.\/)+.*k8s\/overlays\/haproxy$/, 'the overlay, relative to the run directory');
    assert.deepEqual(kustomization.images, [{ name: 'wsk-server', newName: 'registry.example.com/wsk-server', newTag: '1.4.0' }]);
    assert.deepEqual(kustomization.replicas, [{ name: 'server', count: 3 }]);
    assert.match(kustomization.patches[1]?.patch ?? '', /"RATE_LIMIT_EVENTS_PER_SEC","value":"0"/);
    assert.deepEqual(render?.secrets, { 'redis-password': true, 'cookie-key': true, 'stats-password': true }, 'random hex secrets, generated per run');
    assert.deepEqual(calls[2]?.applied, ['Namespace', 'Secret', 'Deployment', 'StatefulSet'], 'the rendered objects reach apply on stdin');

    const endpoints = topology.endpoints();
    assert.equal(endpoints.proxyUrl, 'http://127.0.0.1:38017', 'the port kubectl port-forward picked');
    assert.deepEqual(endpoints.replicas.map((r) => r.id), [POD('m4n8q'), POD('r2t6v'), POD('x7k2p')]);
    assert.deepEqual(endpoints.replicas.map((r) => r.url), ['http://10.244.0.12:3000', 'http://10.244.0.13:3000', 'http://10.244.0.11:3000']);
    assert.deepEqual(routing.calls.at(-1), { url: 'http://127.0.0.1:38017', ids: endpoints.replicas.map((r) => r.id), affinity: 'cookie' });

    let mark = (await fake.argvs()).length;
    await topology.scale(5);
    assert.deepEqual((await fake.argvs()).slice(mark, mark + 4), [
      ['scale', '-n', NS, 'deployment/server', '--replicas=5'],
      ['rollout', 'status', '-n', NS, 'deployment/server', '--timeout=5s'],
      GET_PODS,
      GET_SLICES('server-headless'),
    ]);
    assert.equal(topology.endpoints().replicas.length, 5);
    assert.equal(routing.calls.at(-1)?.ids.length, 5);

    mark = (await fake.argvs()).length;
    await topology.kill(POD('r2t6v'), 'SIGTERM');
    assert.deepEqual((await fake.argvs()).slice(mark, mark + 5), [
      GET_PODS,
      GET_SLICES('server-headless'),
      ['exec', '-n', NS, POD('r2t6v'), '-c', 'server', '--', 'sh', '-c', 'kill -s TERM -- -1'],
      GET_PODS,
      GET_SLICES('server-headless'),
    ]);
    await topology.kill(POD('x7k2p'), 'SIGKILL');
    assert.ok((await fake.argvs()).some((argv) => argv.join(' ').endsWith(`${POD('x7k2p')} -c server -- sh -c kill -s KILL -- -1`)));
    await assert.rejects(topology.kill('server-0', 'SIGTERM'), /no replica pod "server-0" in namespace wsk-test/);

    mark = (await fake.argvs()).length;
    await topology.start(POD('r2t6v'));
    assert.deepEqual((await fake.argvs()).slice(mark), [GET_PODS, GET_SLICES('server-headless')]);
    assert.ok(topology.endpoints().replicas.some((r) => r.id === POD('r2t6v')), 'same pod, same id');

    mark = (await fake.argvs()).length;
    await topology.stopDependency('redis');
    await topology.startDependency('redis');
    assert.deepEqual((await fake.argvs()).slice(mark), [
      ['scale', '-n', NS, 'statefulset/redis', '--replicas=0'],
      ['wait', '-n', NS, '--for=delete', 'pod', '-l', 'app.kubernetes.io/name=wsk-redis', '--timeout=5s'],
      ['scale', '-n', NS, 'statefulset/redis', '--replicas=1'],
      ['rollout', 'status', '-n', NS, 'statefulset/redis', '--timeout=5s'],
    ]);

    mark = (await fake.argvs()).length;
    await topology.down();
    await topology.down();
    assert.deepEqual((await fake.argvs()).slice(mark), [
      ['logs', '-n', NS, '-l', 'app.kubernetes.io/part-of=wsk', '--all-containers', '--prefix', '--timestamps', '--tail=-1', '--max-log-requests=40'],
      ['delete', 'namespace', NS, '--wait=true', '--timeout=300s', '--ignore-not-found'],
    ]);
    assert.deepEqual(await readdir(logDir), [`k8s-${NS}.log`]);
    await rm(logDir, { recursive: true, force: true });
  });

  it('uses the base image when none is given', async () => {
    await using fake = await useFakeKubectl();
    const driver = createK8sDriver({ runner: fake.runner, spawnEnv: fake.env, routingProbe: recordingProbe().probe, namespace: () => NS, image: undefined });
    const previous = process.env.WSK_SERVER_IMAGE;
    delete process.env.WSK_SERVER_IMAGE;
    try {
      await using _topology = await driver.up(OPTIONS);
      const kustomization = (await fake.calls())[1]?.kustomization as { images: unknown[] };
      assert.deepEqual(kustomization.images, [{ name: 'wsk-server', newName: 'wsk-server', newTag: 'local' }], 'what kind load docker-image wsk-server:local provides');
    } finally {
      if (previous !== undefined) process.env.WSK_SERVER_IMAGE = previous;
    }
  });

  it('fails at once, touching nothing, when no cluster answers', async () => {
    await using fake = await useFakeKubectl({ FAKE_KUBECTL_CLUSTER: 'down' });
    const started = Date.now();
    await assert.rejects(driverWith(fake).up(OPTIONS), (error: unknown) => {
      assert.ok(error instanceof ClusterUnavailableError);
      assert.match(error.message, /k8s topology needs a reachable Kubernetes cluster: `kubectl version -o json --request-timeout=5s` got no answer from an API server: The connection to the server 127\.0\.0\.1:6443 was refused/);
      return true;
    });
    assert.ok(Date.now() - started < 5_000);
    assert.deepEqual(await fake.argvs(), [['version', '-o', 'json', '--request-timeout=5s']]);
  });

  it('says so when kubectl itself is missing', async () => {
    const driver = createK8sDriver({ runner: async () => ({ code: null, signal: null, stdout: '', stderr: 'spawn kubectl ENOENT' }) });
    await assert.rejects(driver.up(OPTIONS), /k8s topology needs kubectl \(>= 1\.27\): `kubectl` could not be started \(spawn kubectl ENOENT\)/);
  });

  it('a failed up() deletes the namespace it created, then rethrows', async () => {
    await using fake = await useFakeKubectl({ FAKE_KUBECTL_FAIL_ON: 'deployment/server --timeout' });
    await assert.rejects(driverWith(fake).up(OPTIONS), /`kubectl rollout status -n wsk-test deployment\/server --timeout=600s` exited with code 1: Error from server/);
    assert.deepEqual((await fake.argvs()).at(-1), ['delete', 'namespace', NS, '--wait=true', '--timeout=300s', '--ignore-not-found']);
  });

  it('a port-forward that dies is reported with what kubectl said', async () => {
    await using fake = await useFakeKubectl({ FAKE_KUBECTL_FORWARD: 'fail' });
    await assert.rejects(driverWith(fake).up(OPTIONS), /kubectl port-forward to svc\/haproxy to listen: the command exited with code 1 first: error: unable to forward port because pod is not running/);
    assert.deepEqual((await fake.argvs()).at(-1)?.slice(0, 3), ['delete', 'namespace', NS]);
  });

  it('rejects other topologies, --proxy nginx and replica counts beyond the HAProxy slots', async () => {
    await assert.rejects(k8sDriver.up({ ...OPTIONS, kind: 'swarm' }), /k8s driver asked for a swarm topology/);
    await assert.rejects(k8sDriver.up({ ...OPTIONS, proxy: 'nginx' }), /k8s topology runs the HAProxy overlay only: the scenarios read --proxy nginx as ip_hash/);
    await assert.rejects(k8sDriver.up({ ...OPTIONS, replicas: 17 }), /replicas must be a whole number in 1\.\.16/);
  });
});
