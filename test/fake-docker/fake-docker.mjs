// The fake `docker` behind test/fake-docker/docker. It appends one JSON line
// per invocation to $FAKE_DOCKER_LOG ({ argv, env, stdinBytes, overrides })
// and answers like the real CLI would, from a small state file
// ($FAKE_DOCKER_STATE) so `ps` reflects earlier `up --scale`, `kill`, `stop`.
//
// Knobs (environment):
//   FAKE_DOCKER_ENGINE=down        every command fails like a CLI without a daemon
//   FAKE_DOCKER_COMPOSE=missing    `docker compose` is not installed
//   FAKE_DOCKER_PS_SHAPE=array     `compose ps --format json` prints one JSON array
//                                  (Compose < 2.21); default: one object per line
//   FAKE_DOCKER_SWARM=inactive|worker
//   FAKE_DOCKER_FAIL_ON=TEXT       fail any command whose argv, joined by spaces, contains TEXT
//   FAKE_DOCKER_EXEC_GONE=ID       `docker exec ID …` fails as for a container just killed (exit 126)
//
// Secrets never reach the log: only whether they are set (and look random).
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';

const argv = process.argv.slice(2);
const env = process.env;
const joined = argv.join(' ');

const DAEMON_DOWN =
  'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n';
const NODE_ID = 'k3x9v2m1q8w7e6r5t4y3u2i1o';

function readState() {
  const file = env.FAKE_DOCKER_STATE;
  const fresh = { replicas: 0, killed: [], signals: {}, redisStopped: false, swarm: { replicas: 0, redis: 1, generation: {} } };
  if (!file || !existsSync(file)) return fresh;
  return { ...fresh, ...JSON.parse(readFileSync(file, 'utf8')) };
}

function writeState(state) {
  if (env.FAKE_DOCKER_STATE) writeFileSync(env.FAKE_DOCKER_STATE, JSON.stringify(state));
}

function record(extra) {
  if (!env.FAKE_DOCKER_LOG) return;
  const isSecret = (value) => typeof value === 'string' && /^[0-9a-f]{32,}$/.test(value);
  const entry = {
    argv,
    env: {
      ADAPTER: env.ADAPTER,
      WSK_HAPROXY_PORT: env.WSK_HAPROXY_PORT,
      WSK_NGINX_PORT: env.WSK_NGINX_PORT,
      WSK_RESTART_POLICY: env.WSK_RESTART_POLICY,
      WSK_SERVER_IMAGE: env.WSK_SERVER_IMAGE,
      WSK_SECRET_PREFIX: env.WSK_SECRET_PREFIX,
      WSK_REPLICAS: env.WSK_REPLICAS,
      WSK_HAPROXY_CFG_VERSION: env.WSK_HAPROXY_CFG_VERSION,
      composeSecretsRandom: ['REDIS_PASSWORD', 'WSK_COOKIE_KEY', 'WSK_STATS_PASSWORD'].every((name) => isSecret(env[name])),
    },
    ...extra,
  };
  appendFileSync(env.FAKE_DOCKER_LOG, `${JSON.stringify(entry)}\n`);
}

function out(text) {
  process.stdout.write(text);
}

function fail(message, code = 1) {
  process.stderr.write(message);
  process.exit(code);
}

// Override files (-f / -c FILE.json) are recorded with their content: they
// live in a temp dir the driver removes on down().
const overrides = [];
for (let index = 0; index < argv.length - 1; index += 1) {
  if ((argv[index] === '-f' || argv[index] === '-c') && argv[index + 1].endsWith('.json')) {
    overrides.push(JSON.parse(readFileSync(argv[index + 1], 'utf8')));
  }
}
let stdinBytes = 0;
if (argv[0] === 'secret' && argv[1] === 'create') stdinBytes = readFileSync(0).length;
record({ stdinBytes, ...(overrides.length > 0 ? { overrides } : {}) });

if (env.FAKE_DOCKER_FAIL_ON && joined.includes(env.FAKE_DOCKER_FAIL_ON)) {
  fail(`Error response from daemon: fake failure for "${env.FAKE_DOCKER_FAIL_ON}"\n`);
}
if (env.FAKE_DOCKER_ENGINE === 'down') {
  // The real CLI: `docker version --format '{{.Server.Version}}'` prints an
  // empty line for the server part, then the error on stderr.
  if (argv[0] === 'version') out('\n');
  fail(DAEMON_DOWN);
}

const state = readState();
const hex = (seed, length) => {
  let text = '';
  for (let index = 0; text.length < length; index += 1) text += ((seed * 2654435761 + index * 40503) >>> 0).toString(16).padStart(8, '0');
  return text.slice(0, length);
};
/** Full 64-hex container id of compose server replica N (distinct in the first 12 characters). */
const serverId = (n) => hex(n, 64);
const redisId = hex(101, 64);
const proxyId = hex(102, 64);
const nginxId = hex(104, 64);

function composeProject() {
  const index = argv.indexOf('-p');
  return index >= 0 ? argv[index + 1] : 'main';
}

function composeContainers(service) {
  const all = [];
  for (let n = 1; n <= state.replicas; n += 1) {
    if (!state.killed.includes(serverId(n))) all.push({ id: serverId(n), service: 'server', n, health: 'healthy', ports: '3000/tcp' });
  }
  if (state.replicas > 0 && !state.redisStopped) all.push({ id: redisId, service: 'redis', n: 1, health: 'healthy', ports: '6379/tcp' });
  if (state.replicas > 0) all.push({ id: proxyId, service: 'haproxy', n: 1, health: '', ports: `0.0.0.0:${env.WSK_HAPROXY_PORT ?? 8080}->8080/tcp` });
  if (state.replicas > 0 && state.nginx) all.push({ id: nginxId, service: 'nginx', n: 1, health: '', ports: `0.0.0.0:${env.WSK_NGINX_PORT ?? 8081}->8081/tcp` });
  return all.filter((c) => c.service === service);
}

function composePs(project, service) {
  const containers = composeContainers(service);
  if (env.FAKE_DOCKER_PS_SHAPE === 'array') {
    // Compose 2.17-2.20: one JSON array, full ids, no Labels/Names columns.
    out(
      `${JSON.stringify(
        containers.map((c) => ({
          ID: c.id,
          Name: `${project}-${c.service}-${c.n}`,
          Image: c.service === 'server' ? 'wsk-server:local' : `${c.service}:pinned`,
          Command: 'docker-entrypoint.sh node dist/server/main.js',
          Project: project,
          Service: c.service,
          Created: 1727776800,
          State: 'running',
          Status: `Up 12 seconds${c.health ? ` (${c.health})` : ''}`,
          Health: c.health,
          ExitCode: 0,
          Publishers: [{ URL: '', TargetPort: 3000, PublishedPort: 0, Protocol: 'tcp' }],
        })),
      )}\n`,
    );
    return;
  }
  // Compose 2.21+: one object per line, short ids, aligned with `docker ps`.
  for (const c of containers) {
    out(
      `${JSON.stringify({
        Command: '"/usr/bin/tini -- node…"',
        CreatedAt: '2024-10-01 10:00:00 +0000 UTC',
        ExitCode: 0,
        Health: c.health,
        ID: c.id.slice(0, 12),
        Image: c.service === 'server' ? 'wsk-server:local' : `${c.service}:pinned`,
        Labels: `com.docker.compose.project=${project},com.docker.compose.service=${c.service}`,
        LocalVolumes: '0',
        Mounts: '',
        Name: `${project}-${c.service}-${c.n}`,
        Names: `${project}-${c.service}-${c.n}`,
        Networks: `${project}_default`,
        Ports: c.ports,
        Project: project,
        Publishers: [{ URL: '', TargetPort: 3000, PublishedPort: 0, Protocol: 'tcp' }],
        RunningFor: '12 seconds ago',
        Service: c.service,
        Size: '0B',
        State: 'running',
        Status: `Up 12 seconds${c.health ? ` (${c.health})` : ''}`,
      })}\n`,
    );
  }
}

function findServer(idOrPrefix) {
  for (let n = 1; n <= Math.max(state.replicas, 16); n += 1) {
    if (serverId(n).startsWith(idOrPrefix)) return n;
  }
  return undefined;
}

function compose() {
  const project = composeProject();
  // Skip the global flags: -p NAME, -f FILE, --profile P.
  let index = 1;
  while (index < argv.length && ['-p', '-f', '--profile'].includes(argv[index])) index += 2;
  const command = argv[index];
  const rest = argv.slice(index + 1);
  switch (command) {
    case 'version':
      out('2.29.7\n');
      return;
    case 'up': {
      const scale = rest[rest.indexOf('--scale') + 1] ?? 'server=1';
      state.replicas = Number(scale.split('=')[1]);
      state.project = project;
      state.nginx = argv.includes('nginx');
      state.killed = [];
      state.redisStopped = false;
      writeState(state);
      process.stderr.write(` Container ${project}-server-1  Healthy\n`);
      return;
    }
    case 'ps':
      composePs(project, rest[rest.length - 1]);
      return;
    case 'port': {
      const port = rest[0] === 'nginx' ? (env.WSK_NGINX_PORT ?? 8081) : (env.WSK_HAPROXY_PORT ?? 8080);
      out(`0.0.0.0:${port}\n`);
      return;
    }
    case 'stop':
    case 'start':
      if (rest[0] === 'redis') state.redisStopped = command === 'stop';
      writeState(state);
      process.stderr.write(` Container ${project}-${rest[0]}-1  ${command === 'stop' ? 'Stopped' : 'Started'}\n`);
      return;
    case 'logs':
      out(`${project}-server-1  | {"level":30,"msg":"listening"}\n`);
      return;
    case 'down':
      writeState({ ...readState(), replicas: 0, killed: [], redisStopped: false });
      process.stderr.write(` Network ${project}_default  Removed\n`);
      return;
    default:
      fail(`unknown compose command ${command}\n`);
  }
}

function inspectContainers(ids) {
  const project = state.project ?? 'main';
  const result = [];
  for (const id of ids) {
    if (nginxId.startsWith(id)) {
      result.push({
        Id: nginxId,
        Name: `/${project}-nginx-1`,
        Config: { Hostname: nginxId.slice(0, 12), Image: 'nginx:pinned', Env: ['WSK_NGINX_LISTEN=8081'] },
        State: { Status: 'running', Running: true, ExitCode: 0 },
        NetworkSettings: { Networks: { [`${project}_default`]: { IPAddress: '172.20.0.4', Gateway: '172.20.0.1' } } },
      });
      continue;
    }
    if (proxyId.startsWith(id) || id.endsWith('-haproxy-no-cookie')) {
      const variant = !proxyId.startsWith(id);
      result.push({
        Id: variant ? hex(103, 64) : proxyId,
        Name: variant ? `/${id}` : `/${project}-haproxy-1`,
        Config: {
          Hostname: (variant ? hex(103, 64) : proxyId).slice(0, 12),
          Image: 'haproxy:pinned',
          Env: ['PATH=/usr/bin', 'WSK_PROXY_BIND=*:8080', 'WSK_SERVICE_NAME=server', `WSK_STATS_PASSWORD=${env.WSK_STATS_PASSWORD ?? ''}`],
        },
        State: { Status: 'running', Running: true, ExitCode: 0 },
        NetworkSettings: {
          Networks: { [`${project}_default`]: { IPAddress: variant ? '172.20.0.3' : '172.20.0.2', Gateway: '172.20.0.1' } },
        },
      });
      continue;
    }
    const n = findServer(id);
    if (n === undefined) fail(`Error: No such object: ${id}\n`);
    const full = serverId(n);
    result.push({
      Id: full,
      Name: `/${project}-server-${n}`,
      Config: { Hostname: full.slice(0, 12), Image: 'wsk-server:local' },
      State: { Status: 'running', Running: !state.killed.includes(full), ExitCode: 0 },
      NetworkSettings: {
        Networks: { [`${project}_default`]: { IPAddress: `172.20.0.${10 + n}`, Gateway: '172.20.0.1' } },
      },
    });
  }
  out(`${JSON.stringify(result, null, 4)}\n`);
}

// --- swarm -----------------------------------------------------------------

const taskId = (slot) => `t${hex(200 + slot * 31 + (state.swarm.generation[slot] ?? 0), 24)}`;
const taskContainer = (slot) => hex(300 + slot * 31 + (state.swarm.generation[slot] ?? 0), 64);

const HAPROXY_TASK = `h${hex(250, 24)}`;

function servicePs(service, desiredRunning) {
  const [stack, name] = service.split('_');
  if (name === 'redis') {
    // Scaled to 0: the old task is shut down (shown only without the desired-state filter).
    if (state.swarm.redis > 0) out(`${JSON.stringify({ CurrentState: 'Running 9 seconds ago', DesiredState: 'Running', Error: '', ID: `r${hex(260, 24)}`, Image: 'redis:pinned', Name: `${stack}_redis.1`, Node: 'manager-1', Ports: '' })}\n`);
    else if (!desiredRunning) out(`${JSON.stringify({ CurrentState: 'Shutdown 1 second ago', DesiredState: 'Shutdown', Error: '', ID: `r${hex(260, 24)}`, Image: 'redis:pinned', Name: `${stack}_redis.1`, Node: 'manager-1', Ports: '' })}\n`);
    return;
  }
  if (name === 'haproxy' && state.swarm.replicas > 0) {
    out(`${JSON.stringify({ CurrentState: 'Running 20 seconds ago', DesiredState: 'Running', Error: '', ID: HAPROXY_TASK, Image: 'haproxy:pinned', Name: `${stack}_haproxy.${NODE_ID}`, Node: 'manager-1', Ports: '*:8080->8080/tcp' })}\n`);
    return;
  }
  if (name !== 'server') return;
  for (let slot = 1; slot <= state.swarm.replicas; slot += 1) {
    out(
      `${JSON.stringify({
        CurrentState: 'Running 20 seconds ago',
        DesiredState: 'Running',
        Error: '',
        ID: taskId(slot),
        Image: 'wsk-server:local',
        Name: `${stack}_server.${slot}`,
        Node: 'manager-1',
        Ports: '',
      })}\n`,
    );
  }
}

function inspectTasks(ids) {
  const stack = state.swarm.stack ?? 'wsk-test';
  const result = ids.map((id) => {
    if (id === HAPROXY_TASK) {
      return {
        ID: id,
        NodeID: NODE_ID,
        DesiredState: 'running',
        Status: { State: 'running', Message: 'started', ContainerStatus: { ContainerID: hex(399, 64), PID: 4243, ExitCode: 0 } },
        NetworksAttachments: [{ Network: { Spec: { Name: `${stack}_wsk` } }, Addresses: ['10.0.1.2/24'] }],
      };
    }
    let slot = 1;
    while (slot <= 16 && taskId(slot) !== id) slot += 1;
    if (slot > 16) fail(`Error: No such task: ${id}\n`);
    return {
      ID: id,
      Slot: slot,
      NodeID: NODE_ID,
      DesiredState: 'running',
      Status: { State: 'running', Message: 'started', ContainerStatus: { ContainerID: taskContainer(slot), PID: 4242, ExitCode: 0 } },
      NetworksAttachments: [
        { Network: { Spec: { Name: 'ingress' } }, Addresses: [`10.0.0.${10 + slot}/24`] },
        { Network: { Spec: { Name: `${stack}_wsk` } }, Addresses: [`10.0.1.${10 + slot}/24`] },
      ],
    };
  });
  out(`${JSON.stringify(result, null, 4)}\n`);
}

function swarmKill(containerId) {
  for (let slot = 1; slot <= state.swarm.replicas; slot += 1) {
    if (taskContainer(slot) === containerId) {
      state.signals[containerId] = argv[2];
      // Swarm's restart policy replaces the task: same slot, new task and container.
      state.swarm.generation[slot] = (state.swarm.generation[slot] ?? 0) + 1;
      writeState(state);
      out(`${containerId}\n`);
      return true;
    }
  }
  return false;
}

// `docker exec -e WSK_FETCH_HEADERS CONTAINER node -e SCRIPT URL MS` (the
// swarm driver's in-network GET): HAProxy's stats list every running server
// task UP and checked; a replica's /readyz and /metrics answer 200.
function execFetch() {
  const url = argv[argv.length - 2];
  // FAKE_DOCKER_EXEC_GONE=ID: that container was just killed (as a fault leaves it).
  if (env.FAKE_DOCKER_EXEC_GONE && argv[3] === env.FAKE_DOCKER_EXEC_GONE) {
    fail(`Error response from daemon: Container ${argv[3]} is not running\n`, 126);
  }
  if (url.endsWith('/stats;csv')) {
    if (!String(env.WSK_FETCH_HEADERS ?? '').includes('Basic ')) return out('401\n');
    const rows = ['# pxname,svname,status,addr,cookie,scur,stot,check_status,'];
    for (let slot = 1; slot <= 16; slot += 1) {
      const address = slot <= state.swarm.replicas ? `10.0.1.${10 + slot}:3000` : '';
      rows.push(`replicas,replica${slot},${address ? 'UP' : 'MAINT (resolution)'},${address},c${slot},0,0,${address ? 'L7OK' : ''},`);
    }
    return out(`200\n${rows.join('\n')}\n`);
  }
  if (url.endsWith('/metrics')) return out('200\n# TYPE wsk_connected_clients gauge\nwsk_connected_clients 0\n');
  return out('200\n{"status":"ready"}');
}

// --- dispatch --------------------------------------------------------------

switch (argv[0]) {
  case 'version':
    out('27.3.1\n');
    break;
  case 'info':
    if (env.FAKE_DOCKER_SWARM === 'inactive') out('inactive false \n');
    else if (env.FAKE_DOCKER_SWARM === 'worker') out(`active false ${NODE_ID}\n`);
    else out(`active true ${NODE_ID}\n`);
    break;
  case 'compose':
    if (env.FAKE_DOCKER_COMPOSE === 'missing') fail("docker: 'compose' is not a docker command.\nSee 'docker --help'\n");
    compose();
    break;
  case 'inspect':
    if (argv[1] === '--type' && argv[2] === 'task') inspectTasks(argv.slice(3));
    else inspectContainers(argv.slice(1));
    break;
  case 'kill': {
    const id = argv[argv.length - 1];
    if (swarmKill(id)) break;
    const n = findServer(id);
    if (n === undefined) fail(`Error response from daemon: No such container: ${id}\n`);
    state.killed.push(serverId(n));
    state.signals[serverId(n)] = argv[2];
    writeState(state);
    out(`${id}\n`);
    break;
  }
  case 'wait':
    out(`${state.signals[argv[1]] === 'SIGTERM' ? 0 : 137}\n`);
    break;
  case 'start': {
    const n = findServer(argv[1]);
    if (n === undefined) fail(`Error response from daemon: No such container: ${argv[1]}\n`);
    state.killed = state.killed.filter((id) => id !== serverId(n));
    writeState(state);
    out(`${argv[1]}\n`);
    break;
  }
  case 'network':
    if (argv[1] === 'inspect') {
      out(`${JSON.stringify([{ Name: argv[2], Id: hex(105, 64), Driver: 'bridge', IPAM: { Config: [{ Subnet: '172.20.0.0/16', Gateway: '172.20.0.1' }] }, Options: {} }], null, 4)}\n`);
    }
    break;
  case 'exec':
    execFetch();
    break;
  case 'run':
    out(`${hex(103, 64)}\n`);
    break;
  case 'rm':
    out(`${argv[argv.length - 1]}\n`);
    break;
  case 'port':
    out(`127.0.0.1:${Number(env.WSK_HAPROXY_PORT ?? 8080) + 100}\n`);
    break;
  case 'tag':
    break;
  case 'image':
    out(`Untagged: ${argv[argv.length - 1]}\n`);
    break;
  case 'build':
    process.stderr.write('#0 building with "default" instance using docker driver\n');
    break;
  case 'secret':
    if (argv[1] === 'create') {
      if (stdinBytes === 0) fail('Error: secret data is empty\n');
      out(`${hex(argv[2].length, 25)}\n`);
    } else out(`${argv.slice(2).join('\n')}\n`);
    break;
  case 'stack':
    if (argv[1] === 'deploy') {
      state.swarm = { replicas: Number(env.WSK_REPLICAS ?? 3), redis: 1, generation: {}, stack: argv[argv.length - 1] };
      // Named volumes outlive `stack rm`, as on a real engine.
      state.volumes = [`${state.swarm.stack}_redis-data`];
      writeState(state);
      out(`Creating network ${state.swarm.stack}_wsk\nCreating service ${state.swarm.stack}_server\n`);
    } else if (argv[1] === 'rm') {
      state.swarm = { replicas: 0, redis: 0, generation: {} };
      writeState(state);
      out(`Removing service ${argv[argv.length - 1]}_server\n`);
    }
    break;
  case 'service':
    if (argv[1] === 'scale') {
      const [service, count] = argv[2].split('=');
      if (service.endsWith('_server')) state.swarm.replicas = Number(count);
      else state.swarm.redis = Number(count);
      writeState(state);
      out(`${service} scaled to ${count}\nverify: Service ${service} converged\n`);
    } else if (argv[1] === 'update') {
      // A rolling update replaces every task: same slots, new tasks and containers.
      for (let slot = 1; slot <= state.swarm.replicas; slot += 1) state.swarm.generation[slot] = (state.swarm.generation[slot] ?? 0) + 1;
      writeState(state);
      out(`${argv[argv.length - 1]}\noverall progress: ${state.swarm.replicas} out of ${state.swarm.replicas} tasks\nverify: Service converged\n`);
    } else if (argv[1] === 'ps') servicePs(argv[2], argv.includes('desired-state=running'));
    else if (argv[1] === 'logs') out(`${argv[argv.length - 1]}.1@manager-1    | {"level":30,"msg":"listening"}\n`);
    break;
  case 'volume':
    if (argv[1] === 'ls') {
      const label = argv[argv.indexOf('--filter') + 1] ?? '';
      const namespace = label.replace(/^label=com\.docker\.stack\.namespace=/, '');
      const listed = (state.volumes ?? []).filter((name) => name.startsWith(`${namespace}_`));
      if (listed.length > 0) out(`${listed.join('\n')}\n`);
    } else if (argv[1] === 'rm') {
      state.volumes = (state.volumes ?? []).filter((name) => !argv.slice(2).includes(name));
      writeState(state);
      out(`${argv.slice(2).join('\n')}\n`);
    }
    break;
  default:
    fail(`fake docker: unsupported command: ${joined}\n`);
}
