import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { recordingProbe, useFakeDocker } from '../../test/fake-docker/fake-docker.ts';
import type { DockerRunner } from '../docker/docker-runner.ts';
import { DockerUnavailableError } from '../docker/engine-check.ts';
import { REPO_ROOT } from '../lib/repo-root.ts';
import type { TopologyOptions } from '../topology.ts';
import { deployArgs, removeStackArgs, scaleServiceArgs, servicePsArgs } from './swarm-commands.ts';
import { parseServicePs, parseTaskInspect, slotOfReplicaId } from './swarm-tasks.ts';
import { createSwarmDriver, stackFiles, swarmDriver, swarmRunEnv } from './swarm-topology.ts';

const STACK_FILE = join(REPO_ROOT, 'stack', 'docker-stack.yml');
const OPTIONS: TopologyOptions = { kind: 'swarm', proxy: 'haproxy', replicas: 3, adapter: 'redis' };
const NODE_ID = 'k3x9v2m1q8w7e6r5t4y3u2i1o';
const SECRETS = ['wsk-test_redis_password', 'wsk-test_cookie_key', 'wsk-test_stats_password'];
const VOLUME_LS = ['volume', 'ls', '--quiet', '--filter', 'label=com.docker.stack.namespace=wsk-test'];

function driverWith(runner: DockerRunner, probe = recordingProbe().probe, image?: string) {
  return createSwarmDriver({
    runner,
    routingProbe: probe,
    stackName: () => 'wsk-test',
    freePort: async () => 18080,
    timeouts: { replaceMs: 5_000, scaleMs: 5_000 },
    ...(image ? { image } : {}),
  });
}

describe('swarm commands (pure)', () => {
  const stack = { name: 'wsk-x', files: ['/r/stack/docker-stack.yml'], localImage: true };
  it('builds deploy, scale, ps and rm argv', () => {
    assert.deepEqual(deployArgs(stack), [
      'stack', 'deploy', '-c', '/r/stack/docker-stack.yml', '--detach=false', '--resolve-image', 'never', 'wsk-x',
    ]);
    assert.deepEqual(deployArgs({ ...stack, localImage: false }), [
      'stack', 'deploy', '-c', '/r/stack/docker-stack.yml', '--detach=false', 'wsk-x',
    ]);
    assert.deepEqual(scaleServiceArgs(stack, 'server', 5), ['service', 'scale', 'wsk-x_server=5', '--detach=true']);
    assert.deepEqual(servicePsArgs(stack, 'server'), [
      'service', 'ps', 'wsk-x_server', '--filter', 'desired-state=running', '--no-trunc', '--format', '{{json .}}',
    ]);
    assert.deepEqual(removeStackArgs(stack), ['stack', 'rm', '--detach=false', 'wsk-x']);
  });

  it('adds the Sentinel variant after the stack and empties REDIS_URL for it', () => {
    const config = { projectDir: '/r', stackFile: '/r/stack/docker-stack.yml' };
    assert.deepEqual(stackFiles(config, 'standalone', undefined), ['/r/stack/docker-stack.yml']);
    assert.deepEqual(stackFiles(config, 'sentinel', '/tmp/run.json'), ['/r/stack/docker-stack.yml', '/r/stack/docker-stack.sentinel.yml', '/tmp/run.json']);
    assert.throws(() => stackFiles(config, 'cluster', undefined), /no Redis Cluster variant/);
    const base = { adapter: 'redis', replicas: 3 } as const;
    assert.equal(swarmRunEnv({ name: 's' }, base, 'img', 8080).WSK_REDIS_URL, undefined);
    // Set and empty: the base file's ${WSK_REDIS_URL-redis://redis:6379} then leaves REDIS_URL empty.
    assert.equal(swarmRunEnv({ name: 's' }, { ...base, redis: 'sentinel' }, 'img', 8080).WSK_REDIS_URL, '');
  });

  it('parses service ps lines and task inspect output', () => {
    const ps = parseServicePs(
      '{"CurrentState":"Running 20 seconds ago","DesiredState":"Running","Error":"","ID":"w1q2e3r4t5y6u7i8o9p0a1s2d","Image":"wsk-server:local","Name":"wsk-x_server.2","Node":"manager-1","Ports":""}\n',
    );
    assert.deepEqual(ps, [
      { id: 'w1q2e3r4t5y6u7i8o9p0a1s2d', name: 'wsk-x_server.2', node: 'manager-1', desiredState: 'running', currentState: 'Running 20 seconds ago', error: '' },
    ]);
    const tasks = parseTaskInspect(
      JSON.stringify([
        {
          ID: 'w1q2e3r4t5y6u7i8o9p0a1s2d',
          Slot: 2,
          NodeID: NODE_ID,
          Status: { State: 'running', ContainerStatus: { ContainerID: 'c'.repeat(64), PID: 1 } },
          NetworksAttachments: [
            { Network: { Spec: { Name: 'ingress' } }, Addresses: ['10.0.0.12/24'] },
            { Network: { Spec: { Name: 'wsk-x_wsk' } }, Addresses: ['10.0.1.12/24'] },
          ],
        },
      ]),
    );
    assert.deepEqual(tasks, [
      { id: 'w1q2e3r4t5y6u7i8o9p0a1s2d', slot: 2, nodeId: NODE_ID, state: 'running', containerId: 'c'.repeat(64), addresses: { ingress: '10.0.0.12', 'wsk-x_wsk': '10.0.1.12' } },
    ]);
    assert.equal(slotOfReplicaId('server-12'), 12);
    assert.equal(slotOfReplicaId('9e3779b19e38'), undefined);
  });
});

describe('swarm driver against the fake docker', () => {
  it('issues the exact commands for up, scale, kill, start, redis stop/start and down', async () => {
    await using fake = await useFakeDocker();
    const routing = recordingProbe();
    const topology = await driverWith(fake.runner, routing.probe).up(OPTIONS);

    const calls = await fake.calls();
    assert.deepEqual(calls.slice(0, 8).map((c) => c.argv), [
      ['version', '--format', '{{.Server.Version}}'],
      ['info', '--format', '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}} {{.Swarm.NodeID}}'],
      ['build', '-t', 'wsk-server:local', REPO_ROOT],
      ['secret', 'create', SECRETS[0], '-'],
      ['secret', 'create', SECRETS[1], '-'],
      ['secret', 'create', SECRETS[2], '-'],
      ['stack', 'deploy', '-c', STACK_FILE, '--detach=false', '--resolve-image', 'never', 'wsk-test'],
      // The HAProxy task on this node: where its stats listener is on the overlay.
      ['service', 'ps', 'wsk-test_haproxy', '--filter', 'desired-state=running', '--no-trunc', '--format', '{{json .}}'],
    ]);
    for (const secret of calls.slice(3, 6)) assert.ok(secret.stdinBytes >= 32, 'secret value on stdin, not in argv');
    assert.deepEqual(calls[8]?.argv.slice(0, 3), ['inspect', '--type', 'task']);
    assert.deepEqual(calls[9]?.argv, ['service', 'ps', 'wsk-test_server', '--filter', 'desired-state=running', '--no-trunc', '--format', '{{json .}}']);
    assert.deepEqual(calls[10]?.argv.slice(0, 3), ['inspect', '--type', 'task']);
    assert.deepEqual(
      { ...calls[6]?.env, composeSecretsRandom: undefined },
      {
        ADAPTER: 'redis',
        WSK_SERVER_IMAGE: 'wsk-server:local',
        WSK_SECRET_PREFIX: 'wsk-test',
        WSK_REPLICAS: '3',
        WSK_HAPROXY_PORT: '18080',
        WSK_HAPROXY_CFG_VERSION: 'wsk-test',
        composeSecretsRandom: undefined,
      },
    );

    const endpoints = topology.endpoints();
    assert.equal(endpoints.proxyUrl, 'http://127.0.0.1:18080');
    assert.deepEqual(endpoints.replicas.map((r) => r.id), ['server-1', 'server-2', 'server-3']);
    assert.deepEqual(endpoints.replicas.map((r) => r.address), ['10.0.1.11', '10.0.1.12', '10.0.1.13'], 'the stack network, not ingress');
    assert.equal(endpoints.replicasReachable, false, 'overlay addresses: scenarios go through the proxy and httpGet');
    assert.match(endpoints.statsUrl ?? '', /^http:\/\/admin:[0-9a-f]{48}@10\.0\.1\.2:8404\/stats$/);

    // In-network GETs run in a server task's container, headers from the environment.
    let mark = (await fake.argvs()).length;
    const states = await topology.proxyServerStates?.();
    assert.deepEqual(states?.filter((state) => state.up).map((state) => state.address), ['10.0.1.11', '10.0.1.12', '10.0.1.13']);
    const exec = (await fake.calls())[mark]!;
    assert.deepEqual(exec.argv.slice(0, 4), ['exec', '-e', 'WSK_FETCH_HEADERS', exec.argv[3]]);
    assert.match(exec.argv[3] ?? '', /^[0-9a-f]{64}$/);
    assert.deepEqual(exec.argv.slice(4, 6), ['node', '-e']);
    assert.deepEqual(exec.argv.slice(7), ['http://10.0.1.2:8404/stats;csv', '3000']);
    assert.ok(!exec.argv.some((arg) => arg.includes('Basic ')), 'credentials never in argv');
    const readyz = await topology.httpGet?.('http://10.0.1.12:3000/readyz');
    assert.deepEqual(readyz, { status: 200, body: '{"status":"ready"}' });
    assert.deepEqual(routing.calls.at(-1), { url: 'http://127.0.0.1:18080', ids: ['server-1', 'server-2', 'server-3'], proxy: 'haproxy' });

    mark = (await fake.argvs()).length;
    await topology.scale(5);
    assert.deepEqual((await fake.argvs())[mark], ['service', 'scale', 'wsk-test_server=5', '--detach=true']);
    assert.equal(topology.endpoints().replicas.length, 5);

    mark = (await fake.argvs()).length;
    await topology.kill('server-2', 'SIGTERM');
    const killCalls = (await fake.argvs()).slice(mark);
    assert.deepEqual(killCalls[0]?.slice(0, 3), ['kill', '--signal', 'SIGTERM']);
    assert.match(killCalls[0]?.[3] ?? '', /^[0-9a-f]{64}$/);
    assert.deepEqual(killCalls[1], ['wait', killCalls[0]?.[3]]);

    mark = (await fake.argvs()).length;
    await topology.start('server-2');
    assert.deepEqual((await fake.argvs())[mark]?.slice(0, 3), ['service', 'ps', 'wsk-test_server']);
    assert.ok(topology.endpoints().replicas.some((r) => r.id === 'server-2'), 'the replacement task keeps the slot id');

    mark = (await fake.argvs()).length;
    await topology.stopDependency('redis');
    await topology.startDependency('redis');
    assert.deepEqual((await fake.argvs()).slice(mark), [
      ['service', 'scale', 'wsk-test_redis=0', '--detach=true'],
      // Until the stopped task's container is no longer running (not only its desired state).
      ['service', 'ps', 'wsk-test_redis', '--no-trunc', '--format', '{{json .}}'],
      ['service', 'scale', 'wsk-test_redis=1', '--detach=true'],
      ['service', 'ps', 'wsk-test_redis', '--filter', 'desired-state=running', '--no-trunc', '--format', '{{json .}}'],
    ]);

    mark = (await fake.argvs()).length;
    await topology.down();
    await topology.down();
    assert.deepEqual((await fake.argvs()).slice(mark), [
      ['stack', 'rm', '--detach=false', 'wsk-test'],
      // `stack rm` leaves named volumes (Redis' data) behind: the run removes its own.
      VOLUME_LS,
      ['volume', 'rm', 'wsk-test_redis-data'],
      ['secret', 'rm', ...SECRETS],
    ]);
  });

  it('uses a given image as is: no build, registry digest resolution left on', async () => {
    await using fake = await useFakeDocker();
    const topology = await driverWith(fake.runner, recordingProbe().probe, 'registry.example.com/wsk-server:1.0.0').up({
      ...OPTIONS,
      replicaEnv: { RATE_LIMIT_PER_SECOND: '50' },
    });
    const calls = await fake.calls();
    assert.ok(!calls.some((c) => c.argv[0] === 'build'));
    const deploy = calls.find((c) => c.argv[1] === 'deploy')!;
    const override = deploy.argv[5] ?? '';
    assert.deepEqual(deploy.argv, ['stack', 'deploy', '-c', STACK_FILE, '-c', override, '--detach=false', 'wsk-test']);
    assert.deepEqual(deploy.overrides, [{ version: '3.8', services: { server: { environment: { RATE_LIMIT_PER_SECOND: '50' } } } }]);
    assert.equal(deploy.env.WSK_SERVER_IMAGE, 'registry.example.com/wsk-server:1.0.0');
    await topology.down();
  });

  it('fails at once when the daemon is unreachable', async () => {
    await using fake = await useFakeDocker({ FAKE_DOCKER_ENGINE: 'down' });
    await assert.rejects(
      driverWith(fake.runner).up(OPTIONS),
      (error: unknown) =>
        error instanceof DockerUnavailableError &&
        error.message ===
          "swarm topology needs a running Docker engine: `docker version --format '{{.Server.Version}}'` could not reach the daemon: Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?",
    );
    assert.equal((await fake.argvs()).length, 1);
  });

  it('fails at once when the engine is not in a swarm, or not a manager', async () => {
    {
      await using fake = await useFakeDocker({ FAKE_DOCKER_SWARM: 'inactive' });
      await assert.rejects(driverWith(fake.runner).up(OPTIONS), /swarm state is "inactive" \(run `docker swarm init` first\)/);
      assert.equal((await fake.argvs()).length, 2);
    }
    {
      await using fake = await useFakeDocker({ FAKE_DOCKER_SWARM: 'worker' });
      await assert.rejects(driverWith(fake.runner).up(OPTIONS), /needs a swarm manager/);
    }
  });

  it('refuses nginx before touching docker', async () => {
    await using fake = await useFakeDocker();
    await assert.rejects(driverWith(fake.runner).up({ ...OPTIONS, proxy: 'nginx' }), /swarm topology runs HAProxy only/);
    assert.deepEqual(await fake.argvs(), []);
  });

  it('rolls the server service by the stack update_config: --force, then onto a second tag of the local image', async () => {
    await using fake = await useFakeDocker();
    const topology = await driverWith(fake.runner).up(OPTIONS);
    let mark = (await fake.argvs()).length;
    const forced = await topology.rollingUpdate?.('force');
    // A fresh look at the tasks first (which containers the update must replace), then the update.
    assert.deepEqual((await fake.argvs())[mark + 2], ['service', 'update', '--force', '--detach=false', 'wsk-test_server']);
    assert.deepEqual(forced?.replaced, ['server-1', 'server-2', 'server-3'], 'every slot got a new container');
    mark = (await fake.argvs()).length;
    const imaged = await topology.rollingUpdate?.('image');
    assert.deepEqual((await fake.argvs()).slice(mark + 2, mark + 4), [
      ['tag', 'wsk-server:local', 'wsk-server:rollout-wsk-test-1'],
      ['service', 'update', '--image', 'wsk-server:rollout-wsk-test-1', '--no-resolve-image', '--detach=false', 'wsk-test_server'],
    ]);
    assert.equal(imaged?.change, 'image');
    assert.equal(imaged?.replaced.length, 3);
    mark = (await fake.argvs()).length;
    await topology.down();
    assert.deepEqual((await fake.argvs()).slice(mark), [
      ['stack', 'rm', '--detach=false', 'wsk-test'],
      ['image', 'rm', 'wsk-server:rollout-wsk-test-1'],
      VOLUME_LS,
      ['volume', 'rm', 'wsk-test_redis-data'],
      ['secret', 'rm', ...SECRETS],
    ], 'the rollout tag goes with the stack, after its tasks');
  });

  it('reads in-network URLs from another task when the first one it tries was just killed', async () => {
    // Slot 1's first container (generation 0), as the fake names it.
    const first = '91ba57db91baf61291bb944991bc328091bcd0b791bd6eee91be0d2591beab5c';
    await using fake = await useFakeDocker({ FAKE_DOCKER_EXEC_GONE: first });
    const topology = await driverWith(fake.runner).up(OPTIONS);
    const mark = (await fake.argvs()).length;
    const answer = await topology.httpGet?.('http://10.0.1.99:3000/readyz');
    assert.equal(answer?.status, 200);
    const execs = (await fake.argvs()).slice(mark).filter((argv) => argv[0] === 'exec');
    assert.ok(execs.length >= 2, 'tried a second container');
    assert.notEqual(execs.at(-1)?.[3], execs[0]?.[3]);
    await topology.down();
  });

  it('refuses an image-change rollout of a registry image it cannot re-tag', async () => {
    await using fake = await useFakeDocker();
    const topology = await driverWith(fake.runner, recordingProbe().probe, 'registry.example.com/wsk-server:1.0.0').up(OPTIONS);
    await assert.rejects(topology.rollingUpdate!('image'), /needs a locally built image/);
    await topology.down();
  });

  it('removes the secrets it created when the deploy fails', async () => {
    await using fake = await useFakeDocker({ FAKE_DOCKER_FAIL_ON: 'stack deploy' });
    await assert.rejects(driverWith(fake.runner).up(OPTIONS), /`docker stack deploy .*` exited with code 1/);
    assert.deepEqual((await fake.argvs()).slice(-3), [['stack', 'rm', '--detach=false', 'wsk-test'], VOLUME_LS, ['secret', 'rm', ...SECRETS]]);
  });
});

describe('swarm driver with the real docker CLI', () => {
  it('fails fast and clearly when no Docker engine is reachable', async (t) => {
    const probe = await promisify(execFile)('docker', ['version', '--format', '{{.Server.Version}}'], { timeout: 10_000 }).then(
      () => 'reachable',
      (error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? 'no-cli' : 'unreachable'),
    );
    if (probe === 'reachable') {
      t.skip('a Docker engine is reachable here; this test is about machines without one');
      return;
    }
    const started = Date.now();
    await assert.rejects(swarmDriver.up(OPTIONS), (error: unknown) => {
      assert.ok(error instanceof DockerUnavailableError);
      assert.match(error.message, probe === 'no-cli' ? /^swarm topology needs the docker CLI/ : /^swarm topology needs a running Docker engine: .*could not reach the daemon: .+/s);
      return true;
    });
    assert.ok(Date.now() - started < 10_000);
  });
});
