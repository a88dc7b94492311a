import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { recordingProbe, useFakeDocker } from '../../test/fake-docker/fake-docker.ts';
import { DockerCommandError, type DockerRunner } from '../docker/docker-runner.ts';
import { DockerUnavailableError } from '../docker/engine-check.ts';
import { REPO_ROOT } from '../lib/repo-root.ts';
import type { TopologyOptions } from '../topology.ts';
import { downArgs, killContainerArgs, psArgs, scaleArgs, upArgs } from './compose-commands.ts';
import { parseComposePs, parsePublishedPort } from './compose-ps.ts';
import { composeDriver, composeFiles, composeOverride, createComposeDriver } from './compose-topology.ts';

const COMPOSE_FILE = join(REPO_ROOT, 'docker-compose.yml');
const BASE = ['compose', '-p', 'wsk-test', '-f', COMPOSE_FILE];
const OPTIONS: TopologyOptions = { kind: 'compose', proxy: 'haproxy', replicas: 3, adapter: 'redis' };
const DAEMON_DOWN = 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?';

/** `ip -batch` scripts the driver ran (never the real `ip` in tests). */
const ipBatches: string[] = [];

function driverWith(runner: DockerRunner, probe = recordingProbe().probe) {
  const ports = [18080, 18081];
  return createComposeDriver({
    runner,
    routingProbe: probe,
    ipRunner: async (batch) => {
      ipBatches.push(batch);
    },
    canAddAddresses: true,
    projectName: () => 'wsk-test',
    freePort: async () => ports.shift() ?? 0,
    timeouts: { healthMs: 5_000, routingMs: 5_000 },
  });
}

describe('compose commands (pure)', () => {
  const project = { name: 'wsk-x', files: ['/r/docker-compose.yml', '/tmp/o.json'], profiles: ['nginx'] };
  it('builds up, scale, ps, down and kill argv', () => {
    const base = ['compose', '-p', 'wsk-x', '-f', '/r/docker-compose.yml', '-f', '/tmp/o.json', '--profile', 'nginx'];
    assert.deepEqual(upArgs(project, 3), [...base, 'up', '-d', '--build', '--wait', '--scale', 'server=3']);
    assert.deepEqual(scaleArgs(project, 5), [...base, 'up', '-d', '--wait', '--no-recreate', '--scale', 'server=5']);
    assert.deepEqual(psArgs(project, 'server'), [...base, 'ps', '--format', 'json', 'server']);
    assert.deepEqual(downArgs(project), [...base, 'down', '-v', '--remove-orphans']);
    assert.deepEqual(killContainerArgs('abc', 'SIGTERM'), ['kill', '--signal', 'SIGTERM', 'abc']);
  });

  it('puts extra replica environment in an override, none when empty', () => {
    assert.equal(composeOverride(undefined), undefined);
    assert.equal(composeOverride({}), undefined);
    assert.deepEqual(composeOverride({ CORS_ORIGINS: 'http://a.test' }), {
      services: { server: { environment: { CORS_ORIGINS: 'http://a.test' } } },
    });
  });
});

describe('docker compose ps --format json, both shapes', () => {
  // Compose 2.17-2.20: one JSON array, full ids.
  const arrayShape = `[{"ID":"5f0c2d7e9a1b8c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5","Name":"wsk-a-server-1","Image":"wsk-server:local","Command":"/usr/bin/tini -- node dist/server/main.js","Project":"wsk-a","Service":"server","Created":1727776800,"State":"running","Status":"Up 9 seconds (healthy)","Health":"healthy","ExitCode":0,"Publishers":[{"URL":"","TargetPort":3000,"PublishedPort":0,"Protocol":"tcp"}]},{"ID":"0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9","Name":"wsk-a-server-2","Image":"wsk-server:local","Command":"/usr/bin/tini -- node dist/server/main.js","Project":"wsk-a","Service":"server","Created":1727776800,"State":"exited","Status":"Exited (137) 2 seconds ago","Health":"","ExitCode":137,"Publishers":[]}]\n`;
  // Compose 2.21+: one object per line, short ids (aligned with docker ps).
  const linesShape = [
    '{"Command":"\\"/usr/bin/tini -- node…\\"","CreatedAt":"2024-10-01 10:00:00 +0000 UTC","ExitCode":0,"Health":"healthy","ID":"5f0c2d7e9a1b","Image":"wsk-server:local","Labels":"com.docker.compose.service=server","LocalVolumes":"0","Mounts":"","Name":"wsk-a-server-1","Names":"wsk-a-server-1","Networks":"wsk-a_default","Ports":"3000/tcp","Project":"wsk-a","Publishers":[{"URL":"","TargetPort":3000,"PublishedPort":0,"Protocol":"tcp"}],"RunningFor":"9 seconds ago","Service":"server","Size":"0B","State":"running","Status":"Up 9 seconds (healthy)"}',
    '{"Command":"\\"/usr/bin/tini -- node…\\"","CreatedAt":"2024-10-01 10:00:00 +0000 UTC","ExitCode":137,"Health":"","ID":"0a1b2c3d4e5f","Image":"wsk-server:local","Labels":"com.docker.compose.service=server","LocalVolumes":"0","Mounts":"","Name":"wsk-a-server-2","Names":"wsk-a-server-2","Networks":"wsk-a_default","Ports":"","Project":"wsk-a","Publishers":[],"RunningFor":"9 seconds ago","Service":"server","Size":"0B","State":"exited","Status":"Exited (137) 2 seconds ago"}',
    '',
  ].join('\n');

  it('reads the same containers from the array and the line-delimited shape', () => {
    const fromArray = parseComposePs(arrayShape);
    const fromLines = parseComposePs(linesShape);
    const summary = (list: ReturnType<typeof parseComposePs>) =>
      list.map(({ id, name, service, state, health, exitCode }) => ({ id: id.slice(0, 12), name, service, state, health, exitCode }));
    assert.deepEqual(summary(fromArray), summary(fromLines));
    assert.deepEqual(summary(fromLines), [
      { id: '5f0c2d7e9a1b', name: 'wsk-a-server-1', service: 'server', state: 'running', health: 'healthy', exitCode: 0 },
      { id: '0a1b2c3d4e5f', name: 'wsk-a-server-2', service: 'server', state: 'exited', health: '', exitCode: 137 },
    ]);
  });

  it('reads no containers from empty output in either shape', () => {
    assert.deepEqual(parseComposePs(''), []);
    assert.deepEqual(parseComposePs('[]\n'), []);
  });

  it('names the bad line when the output is not JSON', () => {
    assert.throws(() => parseComposePs('{"ID":"a"}\nnot json\n'), /line 2 is not JSON/);
  });

  it('reads the published port, IPv4 or IPv6 first', () => {
    assert.equal(parsePublishedPort('0.0.0.0:49153\n'), 49153);
    assert.equal(parsePublishedPort('[::]:49153\n0.0.0.0:49153\n'), 49153);
    assert.throws(() => parsePublishedPort('\n'), /no published port/);
  });
});

for (const shape of ['lines', 'array'] as const) {
  describe(`compose driver against the fake docker (ps shape: ${shape})`, () => {
    it('issues the exact commands for up, scale, kill, start, stop/start redis and down', async () => {
      await using fake = await useFakeDocker({ FAKE_DOCKER_PS_SHAPE: shape });
      const routing = recordingProbe();
      const topology = await driverWith(fake.runner, routing.probe).up(OPTIONS);

      const upCalls = await fake.argvs();
      assert.deepEqual(upCalls.slice(0, 4), [
        ['version', '--format', '{{.Server.Version}}'],
        ['compose', 'version', '--short'],
        [...BASE, 'up', '-d', '--build', '--wait', '--scale', 'server=3'],
        // HAProxy's own address once: its stats listener is on the project network.
        [...BASE, 'ps', '--format', 'json', 'haproxy'],
      ]);
      assert.equal(upCalls[4]?.[0], 'inspect');
      assert.equal(upCalls[4]?.length, 2, 'one inspect for the HAProxy container');
      assert.deepEqual(upCalls[5], [...BASE, 'ps', '--format', 'json', 'server']);
      assert.equal(upCalls[6]?.[0], 'inspect');
      assert.equal(upCalls[6]?.length, 4, 'one inspect for the three replicas');
      assert.deepEqual(upCalls[7], [...BASE, 'port', 'haproxy', '8080']);
      const upEnv = (await fake.calls())[2]?.env;
      assert.equal(upEnv?.WSK_HAPROXY_PORT, '18080');
      assert.equal(upEnv?.WSK_RESTART_POLICY, 'no', 'killed replicas must stay down');
      assert.equal(upEnv?.ADAPTER, 'redis');
      assert.equal(upEnv?.WSK_SERVER_IMAGE, 'wsk-server:local');
      assert.equal(upEnv?.composeSecretsRandom, true, 'fresh random secrets for every required variable');

      const endpoints = topology.endpoints();
      assert.equal(endpoints.proxyUrl, 'http://127.0.0.1:18080');
      assert.match(endpoints.statsUrl ?? '', /^http:\/\/admin:[0-9a-f]{48}@172\.20\.0\.2:8404\/stats$/, "the HAProxy container's stats, with the run's credentials");
      assert.equal(endpoints.replicas.length, 3);
      for (const replica of endpoints.replicas) {
        assert.match(replica.id, /^[0-9a-f]{12}$/, 'the container hostname, which REPLICA_ID defaults to');
        assert.match(replica.address, /^172\.20\.0\.\d+$/);
        assert.equal(replica.url, `http://${replica.address}:3000`);
      }
      assert.deepEqual(routing.calls.at(-1), { url: 'http://127.0.0.1:18080', ids: endpoints.replicas.map((r) => r.id), proxy: 'haproxy' });

      const before = (await fake.argvs()).length;
      await topology.scale(5);
      const scaleCalls = (await fake.argvs()).slice(before);
      assert.deepEqual(scaleCalls[0], [...BASE, 'up', '-d', '--wait', '--no-recreate', '--scale', 'server=5']);
      assert.equal(topology.endpoints().replicas.length, 5);
      assert.equal(routing.calls.at(-1)?.ids.length, 5);

      const victim = topology.endpoints().replicas[1]!;
      const mark = (await fake.argvs()).length;
      await topology.kill(victim.id, 'SIGKILL');
      const killCalls = (await fake.argvs()).slice(mark);
      assert.equal(killCalls[0]?.length, 4);
      assert.deepEqual(killCalls[0]?.slice(0, 3), ['kill', '--signal', 'SIGKILL']);
      const containerId = killCalls[0]?.[3] ?? '';
      assert.ok(containerId.startsWith(victim.id), 'kills the container behind the replica id');
      assert.deepEqual(killCalls[1], ['wait', containerId]);
      assert.equal(topology.endpoints().replicas.length, 4);
      assert.ok(!topology.endpoints().replicas.some((r) => r.id === victim.id));

      const mark2 = (await fake.argvs()).length;
      await topology.start(victim.id);
      const startCalls = (await fake.argvs()).slice(mark2);
      assert.deepEqual(startCalls[0], ['start', containerId]);
      assert.deepEqual(startCalls[1], [...BASE, 'ps', '--format', 'json', 'server']);
      assert.ok(topology.endpoints().replicas.some((r) => r.id === victim.id), 'back under the same id');

      const mark3 = (await fake.argvs()).length;
      await topology.stopDependency('redis');
      await topology.startDependency('redis');
      const redisCalls = (await fake.argvs()).slice(mark3);
      assert.deepEqual(redisCalls.slice(0, 3), [
        [...BASE, 'stop', 'redis'],
        [...BASE, 'start', 'redis'],
        [...BASE, 'ps', '--format', 'json', 'redis'],
      ]);

      const mark4 = (await fake.argvs()).length;
      await topology.down();
      await topology.down();
      await topology[Symbol.asyncDispose]();
      assert.deepEqual((await fake.argvs()).slice(mark4), [[...BASE, 'down', '-v', '--remove-orphans']], 'down is idempotent');
    });
  });
}

describe('compose driver: options and failures', () => {
  it('adds the nginx profile, the override file and reads the nginx port', async () => {
    await using fake = await useFakeDocker();
    const routing = recordingProbe();
    const topology = await driverWith(fake.runner, routing.probe).up({
      ...OPTIONS,
      proxy: 'nginx',
      adapter: 'redis-streams',
      replicaEnv: { CORS_ORIGINS: 'http://a.test' },
    });
    const calls = await fake.calls();
    const up = calls[2]!;
    const overrideFile = up.argv[6] ?? '';
    assert.deepEqual(up.argv, [
      'compose', '-p', 'wsk-test', '-f', COMPOSE_FILE, '-f', overrideFile, '--profile', 'nginx',
      'up', '-d', '--build', '--wait', '--scale', 'server=3',
    ]);
    assert.match(overrideFile, /override\.json$/);
    assert.deepEqual(up.overrides, [{ services: { server: { environment: { CORS_ORIGINS: 'http://a.test' } } } }]);
    assert.equal(up.env.ADAPTER, 'redis-streams');
    assert.deepEqual(calls.find((c) => c.argv.includes('port'))?.argv.slice(-3), ['port', 'nginx', '8081']);
    // Clients reach Nginx on the bridge, from host addresses in 150 distinct /24s of its subnet.
    assert.ok(calls.some((c) => c.argv.join(' ') === 'network inspect wsk-test_default'));
    const added = ipBatches.at(-1) ?? '';
    assert.equal(added.split('\n').filter(Boolean).length, 128);
    assert.match(added, /^address add 172\.20\.128\.1\/32 dev br-[0-9a-f]{12}\n/);
    assert.match(added, /address add 172\.20\.255\.1\/32 dev br-[0-9a-f]{12}\n$/);
    assert.equal(topology.endpoints().proxyUrl, 'http://172.20.0.4:8081');
    assert.equal(topology.endpoints().clientAddressesHidden, undefined);
    const { clientSourceAddress } = await import('../lib/client-address.ts');
    assert.equal(clientSourceAddress(0, 'http://172.20.0.4:8081'), '172.20.128.1');
    assert.equal(clientSourceAddress(129, 'http://172.20.0.4:8081/socket.io/'), '172.20.129.1');
    assert.equal(clientSourceAddress(0, 'http://127.0.0.1:18081'), '127.2.1.1', 'other proxies keep the loopback plan');
    assert.equal(routing.calls[0]?.proxy, 'nginx');
    await topology.down();
    assert.equal(ipBatches.at(-1), added.replaceAll('address add', 'address del'), 'down removes exactly what up added');
    assert.equal(clientSourceAddress(0, 'http://172.20.0.4:8081'), '127.2.1.1', 'and the plan with them');
  });

  it('fails at once with a clear message when the daemon is unreachable, running nothing else', async () => {
    await using fake = await useFakeDocker({ FAKE_DOCKER_ENGINE: 'down' });
    const started = Date.now();
    await assert.rejects(driverWith(fake.runner).up(OPTIONS), (error: unknown) => {
      assert.ok(error instanceof DockerUnavailableError);
      assert.equal(
        error.message,
        `compose topology needs a running Docker engine: \`docker version --format '{{.Server.Version}}'\` could not reach the daemon: ${DAEMON_DOWN}`,
      );
      return true;
    });
    assert.ok(Date.now() - started < 5_000);
    assert.deepEqual(await fake.argvs(), [['version', '--format', '{{.Server.Version}}']]);
  });

  it('fails clearly when the compose plugin is missing', async () => {
    await using fake = await useFakeDocker({ FAKE_DOCKER_COMPOSE: 'missing' });
    await assert.rejects(driverWith(fake.runner).up(OPTIONS), /compose topology needs Docker Compose v2 .*'compose' is not a docker command/s);
    assert.equal((await fake.argvs()).length, 2);
  });

  it('tears down what a failed up started, then rethrows the cause', async () => {
    await using fake = await useFakeDocker({ FAKE_DOCKER_FAIL_ON: ' up -d --build' });
    await assert.rejects(driverWith(fake.runner).up(OPTIONS), (error: unknown) => {
      assert.ok(error instanceof DockerCommandError);
      assert.match(error.message, /^`docker compose -p wsk-test .* up -d --build --wait --scale server=3` exited with code 1: Error response from daemon: fake failure/);
      return true;
    });
    const argvs = await fake.argvs();
    assert.deepEqual(argvs.at(-1), [...BASE, 'down', '-v', '--remove-orphans']);
  });

  it('refuses replica counts the proxy has no slots for', async () => {
    await using fake = await useFakeDocker();
    await assert.rejects(driverWith(fake.runner).up({ ...OPTIONS, replicas: 17 }), RangeError);
    assert.deepEqual(await fake.argvs(), []);
  });
});

describe('compose driver: HAProxy stats and variants', () => {
  const csv = [
    '# pxname,svname,status,addr,cookie,scur,stot,check_status,',
    'replicas,replica1,UP,172.20.0.11:3000,a,0,0,L7OK,',
    'replicas,replica2,UP,172.20.0.12:3000,b,0,0,* L7OK,',
    'replicas,replica3,UP,172.20.0.13:3000,c,0,0,,',
    'replicas,replica4,MAINT (resolution),,,0,0,,',
  ].join('\n');

  it('reads the HAProxy container stats with the run credentials and marks unchecked slots', async () => {
    await using fake = await useFakeDocker();
    const asked: Array<{ baseUrl: string; user: string; password: string }> = [];
    const topology = await createComposeDriver({
      runner: fake.runner,
      routingProbe: recordingProbe().probe,
      projectName: () => 'wsk-test',
      freePort: async () => 18080,
      statsFetch: async (source) => {
        asked.push(source);
        return csv;
      },
    }).up(OPTIONS);
    const states = await topology.proxyServerStates?.();
    assert.deepEqual(states, [
      { address: '172.20.0.11', up: true, rawStatus: 'UP', checked: true },
      { address: '172.20.0.12', up: true, rawStatus: 'UP', checked: true },
      { address: '172.20.0.13', up: true, rawStatus: 'UP', checked: false },
      { address: '', up: false, rawStatus: 'MAINT (resolution)', checked: false },
    ]);
    assert.equal(asked[0]?.baseUrl, 'http://172.20.0.2:8404');
    assert.equal(asked[0]?.user, 'admin');
    assert.match(asked[0]?.password ?? '', /^[0-9a-f]{48}$/);
    await topology.down();
  });

  it('runs a variant HAProxy beside the project one: same image and WSK_ environment, secrets never in argv', async () => {
    await using fake = await useFakeDocker();
    const routing = recordingProbe();
    const topology = await driverWith(fake.runner, routing.probe).up(OPTIONS);
    const mark = (await fake.argvs()).length;
    const variant = await topology.startHaproxyVariant?.('no-cookie', (config) => config.replace('cookie WSKSRV', '# cookie WSKSRV'));
    assert.ok(variant);
    const calls = (await fake.calls()).slice(mark);
    const run = calls[0]!.argv;
    assert.deepEqual(run.slice(0, 8), [
      'run', '-d', '--name', 'wsk-test-haproxy-no-cookie', '--label', 'com.docker.compose.project=wsk-test', '--network', 'wsk-test_default',
    ]);
    assert.deepEqual(run.slice(8, 14), ['-e', 'WSK_PROXY_BIND', '-e', 'WSK_SERVICE_NAME', '-e', 'WSK_STATS_PASSWORD']);
    assert.ok(!run.some((arg) => /[0-9a-f]{48}/.test(arg)), 'no secret value in argv');
    assert.match(run[15] ?? '', /haproxy-no-cookie\.cfg:\/usr\/local\/etc\/haproxy\/haproxy\.cfg:ro$/);
    assert.deepEqual(run.slice(16), ['-p', '127.0.0.1::8080', 'haproxy:pinned']);
    assert.deepEqual(calls[1]?.argv, ['port', 'wsk-test-haproxy-no-cookie', '8080']);
    assert.equal(variant.url, 'http://127.0.0.1:18180');
    assert.equal(routing.calls.at(-1)?.url, 'http://127.0.0.1:18180', 'waits until the variant routes');
    const mark2 = (await fake.argvs()).length;
    await topology.down();
    assert.deepEqual((await fake.argvs()).slice(mark2, mark2 + 2), [
      ['rm', '-f', '-v', 'wsk-test-haproxy-no-cookie'],
      [...BASE, 'down', '-v', '--remove-orphans'],
    ], 'the variant goes before the project network');
  });
});

describe('compose driver with the real docker CLI', () => {
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
    await assert.rejects(composeDriver.up(OPTIONS), (error: unknown) => {
      assert.ok(error instanceof DockerUnavailableError);
      if (probe === 'no-cli') assert.match(error.message, /^compose topology needs the docker CLI/);
      else assert.match(error.message, /^compose topology needs a running Docker engine: `docker version .*` could not reach the daemon: .+/s);
      return true;
    });
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 10_000, `failed after ${elapsed} ms`);
  });
});

it('compose files: the base, the Sentinel override beside it when asked, the run override last', () => {
  const config = { composeFile: '/repo/docker-compose.yml' };
  assert.deepEqual(composeFiles(config, 'standalone', undefined), ['/repo/docker-compose.yml']);
  assert.deepEqual(composeFiles(config, 'sentinel', '/tmp/run.json'), ['/repo/docker-compose.yml', '/repo/docker-compose.sentinel.yml', '/tmp/run.json']);
});
