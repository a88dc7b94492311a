/**
 * Two real replicas (createApp) on 127.0.1.1 and 127.0.1.2, one real
 * redis-server on a free port, socket.io-client clients connected directly
 * to each replica. The same suite runs for every adapter. Deliveries are
 * counted: a message must arrive where it should, exactly once, and nowhere
 * else. "Nothing else arrived" is checked with a fence: a later broadcast
 * from the same sender travels the same ordered path, so once the fence has
 * reached everyone, anything sent before it would have arrived too.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { io as connectClient, type Socket as ClientSocket, type SocketOptions, type ManagerOptions } from 'socket.io-client';
import { freeTcpPort, isTcpPortFreeOn } from '../scenarios/lib/free-port.ts';
import { waitFor } from '../scenarios/lib/wait-for.ts';
import { type RedisServerHandle, startRedisServer } from '../scenarios/local/redis-server.ts';
import { type AppHandle, createApp } from './app.ts';
import { ADAPTERS, loadConfig } from './config.ts';
import {
  type AckError,
  type BroadcastMessage,
  type ClientToServerEvents,
  MAX_PAYLOAD_BYTES,
  MAX_ROOMS_PER_SOCKET,
  type ReadyReply,
  type RoomMessage,
  type ServerToClientEvents,
  type Welcome,
} from './protocol.ts';

type TypedClient = ClientSocket<ServerToClientEvents, ClientToServerEvents>;
/** The same socket without the protocol's types, to send what a hostile or buggy client would. */
type UntypedClient = ClientSocket;

interface TestClient {
  name: string;
  socket: TypedClient;
  raw: UntypedClient;
  welcome: Welcome;
  broadcasts: BroadcastMessage[];
  roomMessages: RoomMessage[];
  errorEvents: Array<AckError['error'] & { event: string }>;
  disconnects: string[];
}

const WAIT_MS = 8000;
const live = new Set<TestClient>();

async function connect(
  name: string,
  url: string,
  options: Partial<ManagerOptions & SocketOptions> = {},
): Promise<TestClient> {
  const socket: TypedClient = connectClient(url, {
    forceNew: true,
    reconnection: false,
    ackTimeout: WAIT_MS,
    timeout: WAIT_MS,
    ...options,
  });
  const client: TestClient = {
    name,
    socket,
    raw: socket as unknown as UntypedClient,
    welcome: undefined as unknown as Welcome,
    broadcasts: [],
    roomMessages: [],
    errorEvents: [],
    disconnects: [],
  };
  live.add(client);
  socket.on('broadcast', (message) => client.broadcasts.push(message));
  socket.on('room:message', (message) => client.roomMessages.push(message));
  socket.on('error:event', (error) => client.errorEvents.push(error));
  socket.on('disconnect', (reason) => client.disconnects.push(reason));
  client.welcome = await new Promise<Welcome>((resolve, reject) => {
    socket.once('welcome', resolve);
    socket.once('connect_error', (error) => reject(new Error(`${name} could not connect to ${url}: ${error.message}`)));
  });
  return client;
}

function closeClients(clients: Iterable<TestClient> = live): void {
  for (const client of [...clients]) {
    client.socket.close();
    live.delete(client);
  }
}

function countOf(client: TestClient, id: string): number {
  return client.broadcasts.filter((m) => m.id === id).length + client.roomMessages.filter((m) => m.id === id).length;
}

async function broadcastFrom(sender: TestClient, payload: unknown): Promise<string> {
  const reply = await sender.socket.emitWithAck('broadcast', payload);
  assert.ok(reply.ok, `broadcast refused: ${JSON.stringify(reply)}`);
  return reply.id;
}

/** Wait until each client in `targets` has the message `id` at least once, then demand exactly once. */
async function expectDelivered(id: string, targets: readonly TestClient[], what: string): Promise<void> {
  await waitFor(() => targets.every((client) => countOf(client, id) >= 1), {
    what: `${what} to reach ${targets.map((c) => c.name).join(', ')}`,
    timeoutMs: WAIT_MS,
  });
  for (const client of targets) assert.equal(countOf(client, id), 1, `${client.name} got ${what} more than once`);
}

/** A broadcast from `sender` that must reach `everyone`; returns its id. */
async function fence(sender: TestClient, everyone: readonly TestClient[]): Promise<string> {
  const id = await broadcastFrom(sender, { fence: true });
  await expectDelivered(id, everyone, 'the fence broadcast');
  return id;
}

async function readyz(baseUrl: string): Promise<{ status: number; body: ReadyReply | undefined }> {
  try {
    const response = await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(2000) });
    return { status: response.status, body: (await response.json()) as ReadyReply };
  } catch {
    return { status: 0, body: undefined };
  }
}

async function waitReady(baseUrl: string, expected: 200 | 503): Promise<ReadyReply | undefined> {
  return waitFor(
    async () => {
      const reply = await readyz(baseUrl);
      return reply.status === expected ? (reply.body ?? true) : false;
    },
    { what: `${baseUrl}/readyz to answer ${expected}`, timeoutMs: WAIT_MS },
  ).then((body) => (body === true ? undefined : body));
}

async function sharedPort(hosts: readonly string[]): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const port = await freeTcpPort(hosts[0]);
    if (await isTcpPortFreeOn(port, hosts)) return port;
  }
  throw new Error(`no port free on all of ${hosts.join(', ')}`);
}

const HOSTS = ['127.0.1.1', '127.0.1.2', '127.0.1.3'] as const;
let redis: RedisServerHandle;

before(async () => {
  redis = await startRedisServer();
});

after(async () => {
  closeClients();
  await redis?.stop();
});

for (const adapter of ADAPTERS) {
  describe(`two replicas, ADAPTER=${adapter}`, () => {
    const apps: AppHandle[] = [];
    let port: number;
    let a: AppHandle;
    let b: AppHandle;
    let urlA: string;
    let urlB: string;
    // a1/b1 WebSocket only; a2/b2 default transports (polling, then upgrade).
    let a1: TestClient;
    let a2: TestClient;
    let b1: TestClient;
    let b2: TestClient;
    let everyone: TestClient[];

    const start = async (id: string, host: string, env: Record<string, string> = {}) => {
      const config = loadConfig({
        PORT: String(port),
        HOST: host,
        REPLICA_ID: id,
        REDIS_URL: redis.url,
        ADAPTER: adapter,
        LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
        ...env,
      });
      const app = await createApp(config, { clusterTimeoutMs: 3000 });
      apps.push(app);
      return app;
    };

    before(async () => {
      port = await sharedPort(HOSTS);
      a = await start(`a-${adapter}`, HOSTS[0]);
      b = await start(`b-${adapter}`, HOSTS[1]);
      urlA = `http://${HOSTS[0]}:${port}`;
      urlB = `http://${HOSTS[1]}:${port}`;
      await Promise.all([waitReady(urlA, 200), waitReady(urlB, 200)]);
      a1 = await connect('a1', urlA, { transports: ['websocket'] });
      a2 = await connect('a2', urlA);
      b1 = await connect('b1', urlB, { transports: ['websocket'] });
      b2 = await connect('b2', urlB);
      everyone = [a1, a2, b1, b2];
    });

    after(async () => {
      closeClients();
      await Promise.all(apps.map((app) => app.close()));
    });

    it('welcomes each client with the replica it is on; whoami agrees', async () => {
      assert.equal(a.address().port, port);
      for (const [client, replica] of [
        [a1, a.config.replicaId],
        [a2, a.config.replicaId],
        [b1, b.config.replicaId],
        [b2, b.config.replicaId],
      ] as const) {
        assert.equal(client.welcome.replica, replica);
        assert.equal(client.welcome.recovered, false);
        const me = await client.socket.emitWithAck('whoami');
        assert.ok(me.ok);
        assert.equal(me.replica, replica);
        assert.equal(me.socket, client.socket.id);
        assert.deepEqual(me.rooms, []);
      }
      assert.equal(a1.welcome.transport, 'websocket');
      assert.equal(a2.welcome.transport, 'polling');
    });

    it('delivers a broadcast from either replica to every client on both, exactly once', async () => {
      const fromA = await broadcastFrom(a1, { hello: 'from a' });
      const fromB = await broadcastFrom(b2, { hello: 'from b' });
      await expectDelivered(fromA, everyone, 'broadcast from a1');
      await expectDelivered(fromB, everyone, 'broadcast from b2');
      const message = b1.broadcasts.find((m) => m.id === fromA);
      assert.deepEqual(message?.from, { replica: a.config.replicaId, socket: a1.socket.id });
      assert.deepEqual(message?.payload, { hello: 'from a' });
      assert.ok(typeof message?.sentAt === 'number' && Math.abs(Date.now() - message.sentAt) < 60_000);
      // Duplicates would have arrived before the fences.
      await fence(a1, everyone);
      await fence(b1, everyone);
      for (const client of everyone) {
        assert.equal(countOf(client, fromA), 1, client.name);
        assert.equal(countOf(client, fromB), 1, client.name);
      }
    });

    it('sends room:emit to the room members on both replicas and to no one else', async () => {
      const room = `blue-${adapter}`;
      for (const member of [a1, b1]) {
        const joined = await member.socket.emitWithAck('join', room);
        assert.ok(joined.ok);
        assert.deepEqual(joined.rooms, [room]);
      }
      const roomCounts = new Map(everyone.map((c) => [c, c.roomMessages.length]));
      // The sender need not be a member.
      const sent = await a2.socket.emitWithAck('room:emit', room, { text: 'hi blue' });
      assert.ok(sent.ok);
      await expectDelivered(sent.id, [a1, b1], 'room:emit');
      await fence(a2, everyone);
      for (const outsider of [a2, b2]) assert.equal(outsider.roomMessages.length, roomCounts.get(outsider), outsider.name);
      const got = b1.roomMessages.find((m) => m.id === sent.id);
      assert.equal(got?.room, room);
      assert.deepEqual(got?.payload, { text: 'hi blue' });

      // After leaving, b1 is an outsider too.
      const left = await b1.socket.emitWithAck('leave', room);
      assert.ok(left.ok);
      assert.deepEqual(left.rooms, []);
      const b1Before = b1.roomMessages.length;
      const again = await b2.socket.emitWithAck('room:emit', room, 'second');
      assert.ok(again.ok);
      await expectDelivered(again.id, [a1], 'room:emit after leave');
      await fence(b2, everyone);
      assert.equal(b1.roomMessages.length, b1Before);
    });

    it('lists both replicas with their client counts in cluster:replicas', async () => {
      for (const asker of [a1, b2]) {
        const reply = await asker.socket.emitWithAck('cluster:replicas');
        assert.ok(reply.ok, JSON.stringify(reply));
        assert.equal(reply.complete, true);
        assert.deepEqual(reply.replicas, [
          { replica: a.config.replicaId, clients: 2 },
          { replica: b.config.replicaId, clients: 2 },
        ]);
      }
    });

    it('answers invalid input with error acks and broadcasts nothing', async () => {
      const counts = new Map(everyone.map((c) => [c, { broadcasts: c.broadcasts.length, rooms: c.roomMessages.length }]));
      const raw = a1.raw;
      const expectError = async (code: string, event: string, ...args: unknown[]) => {
        const reply = (await raw.emitWithAck(event, ...args)) as AckError;
        assert.equal(reply.ok, false, `${event} ${JSON.stringify(args)} was accepted`);
        assert.equal(reply.error.code, code, `${event} ${JSON.stringify(args)}: ${reply.error.message}`);
      };
      const big = 'x'.repeat(MAX_PAYLOAD_BYTES + 1);
      await expectError('BAD_REQUEST', 'broadcast');
      await expectError('PAYLOAD_TOO_LARGE', 'broadcast', big);
      await expectError('BAD_REQUEST', 'join', 42);
      await expectError('BAD_REQUEST', 'join', 'has space');
      await expectError('BAD_REQUEST', 'join', 'x'.repeat(65));
      await expectError('BAD_REQUEST', 'join', ['a', 'b']);
      await expectError('BAD_REQUEST', 'leave', { room: 'a' });
      await expectError('FORBIDDEN', 'leave', a1.socket.id);
      await expectError('BAD_REQUEST', 'room:emit', 'bad room', 'payload');
      await expectError('BAD_REQUEST', 'room:emit', 'ok-room');
      await expectError('PAYLOAD_TOO_LARGE', 'room:emit', 'ok-room', big);
      await expectError('BAD_REQUEST', 'no-such-event', 1);

      // Without an ack the refusal comes back as `error:event`; nothing crashes.
      raw.emit('join', 42);
      raw.emit('room:emit', 'bad room', 1);
      raw.emit('no-such-event');
      raw.emit('whoami');
      await waitFor(() => a1.errorEvents.length >= 3, { what: 'three error:event replies', timeoutMs: WAIT_MS });
      // Replies are not ordered: some handlers are async.
      assert.deepEqual(a1.errorEvents.map((e) => `${e.event} ${e.code}`).sort(), [
        'join BAD_REQUEST',
        'no-such-event BAD_REQUEST',
        'room:emit BAD_REQUEST',
      ]);

      // A valid broadcast without an ack still goes out.
      raw.emit('broadcast', { noAck: true });
      await waitFor(() => everyone.every((c) => c.broadcasts.some((m) => (m.payload as { noAck?: boolean })?.noAck)), {
        what: 'the ack-less broadcast to reach everyone',
        timeoutMs: WAIT_MS,
      });

      const fenceId = await fence(a1, everyone);
      for (const client of everyone) {
        const before = counts.get(client) ?? { broadcasts: 0, rooms: 0 };
        const since = [...client.broadcasts.slice(before.broadcasts), ...client.roomMessages.slice(before.rooms)];
        const unexpected = since.filter((m) => m.id !== fenceId && !(m.payload as { noAck?: boolean })?.noAck);
        assert.deepEqual(unexpected, [], `${client.name} received something from invalid input`);
      }
      assert.ok(a1.socket.connected, 'the client that sent garbage is still connected');
    });

    it(`refuses a ${MAX_ROOMS_PER_SOCKET + 1}th room with TOO_MANY_ROOMS`, async () => {
      const joiner = await connect('joiner', urlB, { transports: ['websocket'] });
      try {
        for (let i = 0; i < MAX_ROOMS_PER_SOCKET; i += 1) {
          const reply = await joiner.socket.emitWithAck('join', `r${i}`);
          assert.ok(reply.ok, `join r${i}`);
        }
        const again = await joiner.socket.emitWithAck('join', 'r0');
        assert.ok(again.ok, 're-joining a room it is in is fine');
        const refused = await joiner.socket.emitWithAck('join', 'one-too-many');
        assert.ok(!refused.ok);
        assert.equal(refused.error.code, 'TOO_MANY_ROOMS');
        const me = await joiner.socket.emitWithAck('whoami');
        assert.ok(me.ok && me.rooms.length === MAX_ROOMS_PER_SOCKET);
      } finally {
        closeClients([joiner]);
      }
    });

    it('drains: /readyz 503 at once, new handshakes refused, clients see "transport close" and would reconnect', async () => {
      const c = await start(`c-${adapter}`, HOSTS[2], { DRAIN_DELAY_MS: '300' });
      const urlC = `http://${HOSTS[2]}:${port}`;
      await waitReady(urlC, 200);
      const reconnecting = { reconnection: true, reconnectionDelay: 50, reconnectionDelayMax: 100 };
      const ws = await connect('c-ws', urlC, { transports: ['websocket'], ...reconnecting });
      const polling = await connect('c-polling', urlC, { transports: ['polling'], ...reconnecting });
      try {
        const draining = c.drain();
        assert.equal(c.state.phase, 'draining');
        const ready = await readyz(urlC);
        assert.equal(ready.status, 503);
        assert.equal(ready.body?.reason, 'draining');
        assert.equal((await fetch(`${urlC}/healthz`)).status, 200, 'still alive while draining');

        // A new Engine.IO handshake is refused (503: not now, try elsewhere); existing sessions keep working during the delay.
        const handshake = await fetch(`${urlC}/socket.io/?EIO=4&transport=polling`);
        assert.equal(handshake.status, 503);
        assert.match(await handshake.text(), /draining/);
        await assert.rejects(connect('late', urlC, { transports: ['websocket'] }), /could not connect/);
        const stillThere = await polling.socket.emitWithAck('whoami');
        assert.ok(stillThere.ok);

        await waitFor(() => ws.disconnects.length > 0 && polling.disconnects.length > 0, {
          what: 'both clients of the draining replica to be disconnected',
          timeoutMs: WAIT_MS,
        });
        assert.deepEqual(ws.disconnects, ['transport close']);
        assert.deepEqual(polling.disconnects, ['transport close']);
        // `active` = the client will try to reconnect (it would not after "io server disconnect").
        assert.equal(ws.socket.active, true);
        assert.equal(polling.socket.active, true);
        await draining;
        await c.close();
        await c.close(); // idempotent
        assert.equal((await readyz(urlC)).status, 0, 'nothing listens any more');
        await waitFor(
          async () => {
            const reply = await a1.socket.emitWithAck('cluster:replicas');
            return reply.ok && reply.replicas.every((r) => r.replica !== c.config.replicaId);
          },
          { what: 'the closed replica to leave cluster:replicas', timeoutMs: WAIT_MS },
        );
      } finally {
        closeClients([ws, polling]);
        await c.close();
      }
    });

    it('starts before Redis is up, turns ready when it appears, and closes in bounded time while it is down', async () => {
      const lateRedis = await startRedisServer();
      await lateRedis.stop();
      const port = await sharedPort([HOSTS[2]]);
      const url = `http://${HOSTS[2]}:${port}`;
      const config = loadConfig({
        PORT: String(port),
        HOST: HOSTS[2],
        REPLICA_ID: `late-${adapter}`,
        REDIS_URL: lateRedis.url,
        ADAPTER: adapter,
        LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      });
      const app = await createApp(config, { redisMaxReconnectDelayMs: 200 });
      try {
        const down = await waitReady(url, 503);
        assert.match(down?.reason ?? '', /^redis not ready: /);
        await lateRedis.start();
        await waitReady(url, 200);
        const client = await connect('late-client', url, { transports: ['websocket'] });
        const sent = await broadcastFrom(client, 'alone');
        await expectDelivered(sent, [client], 'a broadcast on a one-replica cluster');
        closeClients([client]);
        await lateRedis.stop();
        await waitReady(url, 503);
        const started = Date.now();
        await app.close();
        assert.ok(Date.now() - started < 3000, `close() took ${Date.now() - started} ms with Redis down`);
      } finally {
        await app.close();
        await lateRedis.stop();
      }
    });

    it('survives a Redis restart: /readyz 503 during the outage, cross-replica broadcast after it', async () => {
      // Rooms created before the outage: the sharded adapter has a channel per room to resubscribe.
      const room = `green-${adapter}`;
      for (const member of [a2, b2]) assert.ok((await member.socket.emitWithAck('join', room)).ok);
      await redis.stop();
      for (const url of [urlA, urlB]) {
        const reply = await waitReady(url, 503);
        assert.match(reply?.reason ?? '', /^redis not ready: /);
      }
      assert.ok(
        everyone.every((c) => c.socket.connected),
        'clients stay connected while Redis is down',
      );
      // Traffic during the outage must not crash anything (an unhandled
      // rejection would fail this test). Whether these messages reach the
      // other replica later depends on the adapter: not asserted here.
      const during = await a1.socket.emitWithAck('broadcast', 'during the outage');
      assert.ok(during.ok, 'the accepting replica still acks');
      const roomDuring = await b1.socket.emitWithAck('room:emit', room, 'during the outage');
      assert.ok(roomDuring.ok);
      const clusterDuring = a1.socket.emitWithAck('cluster:replicas');
      await redis.start();
      const replicasDuring = await clusterDuring;
      assert.ok(replicasDuring.ok, 'cluster:replicas answers (maybe incomplete) across an outage');
      await Promise.all([waitReady(urlA, 200), waitReady(urlB, 200)]);

      // The subscriptions came back: a broadcast crosses replicas in both directions.
      const fromA = await broadcastFrom(a1, 'after restart from a');
      const fromB = await broadcastFrom(b1, 'after restart from b');
      await expectDelivered(fromA, everyone, 'broadcast from a1 after the restart');
      await expectDelivered(fromB, everyone, 'broadcast from b1 after the restart');
      await fence(a2, everyone);
      for (const client of everyone) {
        assert.equal(countOf(client, fromA), 1, client.name);
        assert.equal(countOf(client, fromB), 1, client.name);
      }
      const roomCounts = new Map(everyone.map((c) => [c, c.roomMessages.length]));
      const toRoom = await a1.socket.emitWithAck('room:emit', room, 'room after restart');
      assert.ok(toRoom.ok);
      await expectDelivered(toRoom.id, [a2, b2], 'room:emit after the restart');
      await fence(a1, everyone);
      for (const outsider of [a1, b1]) assert.equal(outsider.roomMessages.length, roomCounts.get(outsider), outsider.name);

      const replicas = await a2.socket.emitWithAck('cluster:replicas');
      assert.ok(replicas.ok && replicas.complete && replicas.replicas.length === 2, JSON.stringify(replicas));
    });
  });
}

describe('CORS', () => {
  const apps: AppHandle[] = [];
  after(async () => {
    await Promise.all(apps.map((app) => app.close()));
  });

  async function handshakeHeaders(corsOrigins: string, origin: string): Promise<Headers> {
    const port = await sharedPort([HOSTS[0]]);
    const app = await createApp(
      loadConfig({
        PORT: String(port),
        HOST: HOSTS[0],
        REPLICA_ID: 'cors',
        REDIS_URL: redis.url,
        CORS_ORIGINS: corsOrigins,
        LOG_LEVEL: 'silent',
      }),
    );
    apps.push(app);
    const response = await fetch(`http://${HOSTS[0]}:${port}/socket.io/?EIO=4&transport=polling`, { headers: { origin } });
    await response.text();
    await app.close();
    return response.headers;
  }

  it('sends no CORS headers by default: other origins cannot read the handshake', async () => {
    const headers = await handshakeHeaders('', 'https://evil.example');
    assert.equal(headers.get('access-control-allow-origin'), null);
  });

  it('allows exactly the configured origins, with credentials (for the affinity cookie)', async () => {
    const allowed = await handshakeHeaders('https://app.example,https://admin.example', 'https://admin.example');
    assert.equal(allowed.get('access-control-allow-origin'), 'https://admin.example');
    assert.equal(allowed.get('access-control-allow-credentials'), 'true');
    const other = await handshakeHeaders('https://app.example', 'https://evil.example');
    assert.equal(other.get('access-control-allow-origin'), null);
  });

  it('allows any origin only when CORS_ORIGINS is "*"', async () => {
    const any = await handshakeHeaders('*', 'https://anything.example');
    assert.equal(any.get('access-control-allow-origin'), 'https://anything.example');
  });
});

describe('createApp start-up failure', () => {
  it('rejects when the port is taken, leaving nothing open', async () => {
    const port = await sharedPort([HOSTS[0]]);
    const config = loadConfig({
      PORT: String(port),
      HOST: HOSTS[0],
      REPLICA_ID: 'first',
      REDIS_URL: redis.url,
      LOG_LEVEL: 'silent',
    });
    const first = await createApp(config);
    try {
      await assert.rejects(createApp({ ...config, replicaId: 'second' }), /EADDRINUSE/);
    } finally {
      await first.close();
    }
  });
});
