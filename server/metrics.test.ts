/**
 * Two real replicas in one process (each with its own registry), one real
 * redis-server, socket.io-client clients: the counters must count what the
 * clients really received, on the replica that delivered it.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { io as connectClient, type Socket as ClientSocket } from 'socket.io-client';
import { parsePrometheusText, type Sample, sumSamples } from '../scenarios/lib/prometheus-text.ts';
import { waitFor } from '../scenarios/lib/wait-for.ts';
import { type RedisServerHandle, startRedisServer } from '../scenarios/local/redis-server.ts';
import { type AppHandle, createApp } from './app.ts';
import { loadConfig } from './config.ts';
import { createMetrics, ENGINE_ERROR_CODES, METRIC_NAMES, type ReplicaMetrics } from './metrics.ts';
import type { BroadcastMessage, ClientToServerEvents, ServerToClientEvents } from './protocol.ts';
import { staticRoutes } from './static-routes.ts';

type Client = ClientSocket<ServerToClientEvents, ClientToServerEvents> & { got: BroadcastMessage[] };

let redis: RedisServerHandle;
const apps: AppHandle[] = [];
const metrics: ReplicaMetrics[] = [];
const clients: Client[] = [];

async function startReplica(id: string): Promise<{ app: AppHandle; url: string }> {
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    REPLICA_ID: id,
    REDIS_URL: redis.url,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
  });
  const replicaMetrics = createMetrics({ replica: id });
  const app = await createApp(config, {
    routes: { ...staticRoutes(), ...replicaMetrics.routes },
    onRedisCommandError: replicaMetrics.onRedisCommandError,
  });
  replicaMetrics.attach(app);
  apps.push(app);
  metrics.push(replicaMetrics);
  const { host, port } = app.address();
  return { app, url: `http://${host}:${port}` };
}

async function connect(url: string): Promise<Client> {
  const socket = connectClient(url, { forceNew: true, reconnection: false, transports: ['websocket'] }) as Client;
  socket.got = [];
  clients.push(socket);
  socket.on('broadcast', (message) => socket.got.push(message));
  await new Promise<void>((resolve, reject) => {
    socket.once('welcome', () => resolve());
    socket.once('connect_error', reject);
  });
  return socket;
}

async function scrape(url: string): Promise<Sample[]> {
  const response = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(3000) });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(await response.text());
}

let a: { app: AppHandle; url: string };
let b: { app: AppHandle; url: string };

before(async () => {
  redis = await startRedisServer();
  a = await startReplica('metrics-a');
  b = await startReplica('metrics-b');
  for (const { url } of [a, b]) {
    await waitFor(async () => (await fetch(`${url}/readyz`)).ok, { what: `${url}/readyz`, timeoutMs: 8000 });
  }
});

after(async () => {
  for (const client of clients) client.close();
  await Promise.allSettled(apps.map((app) => app.close()));
  await redis?.stop();
});

test('each replica exposes its own registry: replica label, process metrics, Redis and readiness gauges', async () => {
  const samples = await scrape(a.url);
  assert.ok(samples.length > 0);
  assert.ok(
    samples.every((sample) => sample.labels.replica === 'metrics-a'),
    'every sample carries replica="metrics-a"',
  );
  assert.ok(samples.some((sample) => sample.name === 'process_cpu_user_seconds_total'), 'default process metrics');
  assert.ok(samples.some((sample) => sample.name === 'nodejs_eventloop_lag_seconds'), 'default Node metrics');
  assert.equal(sumSamples(samples, METRIC_NAMES.redisConnectionUp, { connection: 'pub' }), 1);
  assert.equal(sumSamples(samples, METRIC_NAMES.redisConnectionUp, { connection: 'sub' }), 1);
  assert.equal(sumSamples(samples, METRIC_NAMES.ready), 1);
  assert.equal(sumSamples(samples, METRIC_NAMES.draining), 0);
  assert.notEqual(metrics[0]?.registry, metrics[1]?.registry);
});

test('deliveries, fan-out and events are counted on the replica that delivered them', async () => {
  const before = { a: await scrape(a.url), b: await scrape(b.url) };
  const a1 = await connect(a.url);
  const a2 = await connect(a.url);
  const b1 = await connect(b.url);
  const reply = await a1.timeout(5000).emitWithAck('broadcast', { hello: 1 });
  assert.ok(reply.ok);
  await waitFor(() => [a1, a2, b1].every((c) => c.got.some((m) => m.id === reply.id)), {
    what: 'the broadcast to reach all three clients',
    timeoutMs: 5000,
  });
  a1.emit('no-such-event' as 'whoami', () => undefined);
  await a1.timeout(5000).emitWithAck('whoami');

  const now = { a: await scrape(a.url), b: await scrape(b.url) };
  const delta = (side: 'a' | 'b', name: string, where: Record<string, string> = {}) =>
    sumSamples(now[side], name, where) - sumSamples(before[side], name, where);

  assert.equal(sumSamples(now.a, METRIC_NAMES.connectedClients), 2);
  assert.equal(sumSamples(now.a, METRIC_NAMES.connectedClients, { transport: 'websocket' }), 2);
  assert.equal(sumSamples(now.b, METRIC_NAMES.connectedClients), 1);
  assert.equal(delta('a', METRIC_NAMES.connections), 2);
  assert.equal(delta('a', METRIC_NAMES.broadcastDeliveries, { event: 'broadcast' }), 2);
  assert.equal(delta('b', METRIC_NAMES.broadcastDeliveries, { event: 'broadcast' }), 1);
  // One message, observed once per replica with local recipients, with its local fan-out.
  assert.equal(delta('a', `${METRIC_NAMES.broadcastFanout}_count`, { event: 'broadcast' }), 1);
  assert.equal(delta('a', `${METRIC_NAMES.broadcastFanout}_sum`, { event: 'broadcast' }), 2);
  assert.equal(delta('b', `${METRIC_NAMES.broadcastFanout}_sum`, { event: 'broadcast' }), 1);
  assert.equal(delta('a', METRIC_NAMES.eventsReceived, { event: 'broadcast' }), 1);
  assert.equal(delta('a', METRIC_NAMES.eventsReceived, { event: 'whoami' }), 1);
  assert.equal(delta('a', METRIC_NAMES.eventsReceived, { event: 'unknown' }), 1);
  assert.equal(delta('b', METRIC_NAMES.eventsReceived, { event: 'broadcast' }), 0);
  assert.equal(delta('a', METRIC_NAMES.eventsSent, { event: 'welcome' }), 2);
  assert.equal(delta('a', METRIC_NAMES.eventsSent, { event: 'broadcast' }), 2);
  assert.ok(!now.a.some((s) => s.labels.event === 'no-such-event'), 'client-chosen names never become labels');

  for (const client of [a1, a2, b1]) client.close();
  await waitFor(async () => sumSamples(await scrape(a.url), METRIC_NAMES.connectedClients) === 0, {
    what: 'replica a to count its clients gone',
    timeoutMs: 5000,
  });
  const gone = (await scrape(a.url)).filter((s) => s.name === METRIC_NAMES.disconnections && s.value > 0);
  assert.deepEqual(
    gone.map((s) => [s.labels.reason, s.value]),
    [['client namespace disconnect', 2]],
  );
});

test('a failed Redis command is counted per connection and method; only publishes count as lost cluster messages', async () => {
  const cut = new Error('Socket closed unexpectedly');
  metrics[1]!.onRedisCommandError('pub', 'publish', cut);
  metrics[1]!.onRedisCommandError('main', 'xAdd', cut);
  metrics[1]!.onRedisCommandError('main-dup1', 'xRead', cut);
  metrics[1]!.onRedisCommandError('main', 'not a method {}', cut);
  const samples = await scrape(b.url);
  assert.equal(sumSamples(samples, METRIC_NAMES.redisCommandErrors, { connection: 'pub', command: 'publish' }), 1);
  assert.equal(sumSamples(samples, METRIC_NAMES.redisCommandErrors, { connection: 'main-dup1', command: 'xRead' }), 1);
  assert.equal(sumSamples(samples, METRIC_NAMES.redisCommandErrors, { command: 'other' }), 1);
  assert.equal(sumSamples(samples, METRIC_NAMES.redisCommandErrors), 4);
  assert.equal(sumSamples(samples, METRIC_NAMES.adapterPublishErrors), 2, 'publish and xAdd, not xRead');
});

test('refused Engine.IO requests are counted by engine.io error code; codes are a fixed set', async () => {
  const before = await scrape(a.url);
  for (const code of Object.keys(ENGINE_ERROR_CODES)) {
    assert.ok(
      before.some((s) => s.name === METRIC_NAMES.engineConnectionErrors && s.labels.code === code),
      `code ${code} is exported before its first error`,
    );
  }
  const get = async (query: string) => {
    const response = await fetch(`${a.url}/socket.io/?${query}`, { signal: AbortSignal.timeout(3000) });
    return { status: response.status, body: await response.text() };
  };
  // A polling request for a session this replica never opened: what a
  // replica behind a proxy without affinity answers.
  assert.deepEqual(await get('EIO=4&transport=polling&sid=never-opened'), { status: 400, body: '{"code":1,"message":"Session ID unknown"}' });
  assert.deepEqual(await get('EIO=4&transport=polling&sid=never-opened-either'), { status: 400, body: '{"code":1,"message":"Session ID unknown"}' });
  assert.equal((await get('EIO=4&transport=carrier-pigeon')).status, 400);
  const after = await scrape(a.url);
  const delta = (code: string) =>
    sumSamples(after, METRIC_NAMES.engineConnectionErrors, { code }) - sumSamples(before, METRIC_NAMES.engineConnectionErrors, { code });
  assert.equal(delta('1'), 2, 'Session ID unknown');
  assert.equal(delta('0'), 1, 'Transport unknown');
  assert.equal(delta('4'), 0);
  const codes = new Set(after.filter((s) => s.name === METRIC_NAMES.engineConnectionErrors).map((s) => s.labels.code));
  assert.deepEqual([...codes].sort(), Object.keys(ENGINE_ERROR_CODES).sort(), 'no label value outside the fixed set');
  const other = await scrape(b.url);
  assert.equal(sumSamples(other, METRIC_NAMES.engineConnectionErrors, { code: '1' }), 0, 'counted on the replica that refused, only');
});

test('the demo page, its assets and the Socket.IO browser client are served; nothing else', async () => {
  const page = await fetch(`${a.url}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
  assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
  assert.match(await page.text(), /<script src="\/socket\.io\/socket\.io\.min\.js"/);
  for (const [path, type] of [
    ['/demo.js', /^text\/javascript/],
    ['/demo.css', /^text\/css/],
    ['/socket.io/socket.io.min.js', /^application\/javascript/],
  ] as const) {
    const response = await fetch(`${a.url}${path}`);
    assert.equal(response.status, 200, path);
    assert.match(response.headers.get('content-type') ?? '', type, path);
    await response.arrayBuffer();
  }
  assert.equal((await fetch(`${a.url}/`, { method: 'POST' })).status, 405);
  assert.equal((await fetch(`${a.url}/metrics`, { method: 'DELETE' })).status, 405);
  assert.equal((await fetch(`${a.url}/public/demo.js`)).status, 404);
  assert.equal((await fetch(`${a.url}/../package.json`)).status, 404);
});
