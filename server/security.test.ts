/**
 * The replica against hostile and unauthorized clients: real replicas
 * (createApp) on loopback with one real redis-server, socket.io-client and
 * raw HTTP / WebSocket clients. Every check that something was refused also
 * checks that nothing leaked: a fence broadcast from the same sender must
 * arrive everywhere before the counts are read, so anything sent before it
 * would have arrived too.
 */
import assert from 'node:assert/strict';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT, UnsecuredJWT } from 'jose';
import { io as connectClient, type ManagerOptions, type Socket as ClientSocket, type SocketOptions } from 'socket.io-client';
import { pollingHandshake, websocketHandshake } from '../scenarios/lib/handshake-probe.ts';
import { waitFor } from '../scenarios/lib/wait-for.ts';
import { type RedisServerHandle, startRedisServer } from '../scenarios/local/redis-server.ts';
import { type AppHandle, createApp } from './app.ts';
import { loadConfig } from './config.ts';
import { type AckError, type BroadcastMessage, MAX_PAYLOAD_BYTES, type RoomMessage, SOCKET_ID_PATTERN } from './protocol.ts';

const WAIT_MS = 8000;
const HOST = '127.0.0.1';

interface Client {
  name: string;
  socket: ClientSocket;
  broadcasts: BroadcastMessage[];
  roomMessages: RoomMessage[];
  errorEvents: Array<AckError['error'] & { event: string }>;
  disconnects: string[];
}

let redis: RedisServerHandle;
const apps = new Set<AppHandle>();
const clients = new Set<Client>();
const servers = new Set<HttpServer>();

before(async () => {
  redis = await startRedisServer();
});

after(async () => {
  for (const client of clients) client.socket.close();
  await Promise.allSettled([...apps].map((app) => app.close()));
  for (const server of servers) server.close();
  await redis?.stop();
});

async function startApp(env: Record<string, string> = {}): Promise<{ app: AppHandle; url: string }> {
  const config = loadConfig({
    PORT: '0',
    HOST,
    REPLICA_ID: `sec-${apps.size + 1}`,
    REDIS_URL: redis.url,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...env,
  });
  const app = await createApp(config, { clusterTimeoutMs: 2000 });
  apps.add(app);
  const url = `http://${HOST}:${app.address().port}`;
  await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, { what: `${url}/readyz 200`, timeoutMs: WAIT_MS });
  return { app, url };
}

async function stopApp(app: AppHandle): Promise<void> {
  await app.close();
  apps.delete(app);
}

/** Connect and wait for `welcome`; rejects with the connect_error's message. */
async function connect(name: string, url: string, options: Partial<ManagerOptions & SocketOptions> = {}): Promise<Client> {
  const socket = connectClient(url, { forceNew: true, reconnection: false, timeout: WAIT_MS, ackTimeout: WAIT_MS, ...options });
  const client: Client = { name, socket, broadcasts: [], roomMessages: [], errorEvents: [], disconnects: [] };
  clients.add(client);
  socket.on('broadcast', (message: BroadcastMessage) => client.broadcasts.push(message));
  socket.on('room:message', (message: RoomMessage) => client.roomMessages.push(message));
  socket.on('error:event', (error: AckError['error'] & { event: string }) => client.errorEvents.push(error));
  socket.on('disconnect', (reason: string) => client.disconnects.push(reason));
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('welcome', () => resolve());
      socket.once('connect_error', (error) => reject(error));
    });
  } catch (error) {
    socket.close();
    clients.delete(client);
    throw error;
  }
  return client;
}

/** The connect_error a client gets, as `{ message, code }`. */
async function refusal(url: string, options: Partial<ManagerOptions & SocketOptions>): Promise<{ message: string; code: unknown }> {
  try {
    await connect('refused', url, options);
  } catch (error) {
    const data = (error as { data?: { code?: unknown } }).data;
    return { message: (error as Error).message, code: data?.code };
  }
  return assert.fail('the connection was accepted');
}

async function emitAck(client: Client, event: string, ...args: unknown[]): Promise<{ ok: boolean; error?: AckError['error'] } & Record<string, unknown>> {
  return client.socket.emitWithAck(event, ...args);
}

/** A broadcast from `sender` that must reach each of `everyone`; returns its id. */
async function fence(sender: Client, everyone: readonly Client[]): Promise<string> {
  const reply = await emitAck(sender, 'broadcast', { fence: true });
  assert.ok(reply.ok, JSON.stringify(reply));
  const id = reply.id as string;
  await waitFor(() => everyone.every((client) => client.broadcasts.some((m) => m.id === id)), {
    what: `the fence from ${sender.name} to reach ${everyone.map((c) => c.name).join(', ')}`,
    timeoutMs: WAIT_MS,
  });
  return id;
}

async function healthz(url: string): Promise<number> {
  const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
  await response.body?.cancel();
  return response.status;
}

describe('a message over MAX_HTTP_BUFFER_SIZE', () => {
  it('disconnects its sender only, on either transport; the replica keeps serving the others', async () => {
    const { app, url } = await startApp({ MAX_HTTP_BUFFER_SIZE: '20000' });
    try {
      const ws = await connect('neighbour-ws', url, { transports: ['websocket'] });
      const polling = await connect('neighbour-polling', url, { transports: ['polling'] });
      const neighbours = [ws, polling];
      const big = 'x'.repeat(30_000);
      for (const transport of ['websocket', 'polling'] as const) {
        const offender = await connect(`offender-${transport}`, url, { transports: [transport] });
        offender.socket.emit('broadcast', big);
        await waitFor(() => offender.disconnects.length > 0, { what: `the ${transport} offender to be disconnected`, timeoutMs: WAIT_MS });
        assert.match(offender.disconnects[0] ?? '', /^transport (close|error)$/);
      }
      assert.equal(await healthz(url), 200);
      await fence(ws, neighbours);
      await fence(polling, neighbours);
      for (const neighbour of neighbours) {
        assert.ok(neighbour.socket.connected, `${neighbour.name} still connected`);
        assert.deepEqual(neighbour.disconnects, []);
        assert.equal(neighbour.broadcasts.filter((m) => m.payload === big).length, 0, `${neighbour.name} got the oversized message`);
        assert.equal(neighbour.broadcasts.length, 2, `${neighbour.name}: the two fences and nothing else`);
      }
    } finally {
      await stopApp(app);
    }
  });
});

describe('invalid event payloads, across two replicas', () => {
  it('get an error ack (or error:event without one) and broadcast nothing anywhere', async () => {
    const a = await startApp();
    const b = await startApp();
    try {
      const a1 = await connect('a1', a.url, { transports: ['websocket'] });
      const a2 = await connect('a2', a.url, { transports: ['polling'] });
      const b1 = await connect('b1', b.url, { transports: ['websocket'] });
      const everyone = [a1, a2, b1];
      for (const client of everyone) assert.match(client.socket.id ?? '', SOCKET_ID_PATTERN, 'socket ids have the reserved shape');

      const expectError = async (code: string, event: string, ...args: unknown[]) => {
        const reply = await emitAck(a1, event, ...args);
        assert.equal(reply.ok, false, `${event} ${JSON.stringify(args).slice(0, 80)} was accepted`);
        assert.equal(reply.error?.code, code, `${event} ${JSON.stringify(args).slice(0, 80)}: ${reply.error?.message}`);
      };
      const big = { blob: 'x'.repeat(MAX_PAYLOAD_BYTES) };
      await expectError('BAD_REQUEST', 'broadcast');
      await expectError('PAYLOAD_TOO_LARGE', 'broadcast', big);
      await expectError('BAD_REQUEST', 'broadcast', JSON.parse(`${'['.repeat(40)}1${']'.repeat(40)}`));
      await expectError('BAD_REQUEST', 'room:emit', 42, 'payload');
      await expectError('BAD_REQUEST', 'room:emit', { room: 'x' }, 'payload');
      await expectError('BAD_REQUEST', 'room:emit', 'lobby');
      await expectError('PAYLOAD_TOO_LARGE', 'room:emit', 'lobby', big);
      await expectError('BAD_REQUEST', 'join', ['lobby', 'other']);
      await expectError('BAD_REQUEST', 'join', 'x'.repeat(65));
      await expectError('BAD_REQUEST', 'join', 'lobby\u0000');
      await expectError('BAD_REQUEST', 'leave', null);
      await expectError('BAD_REQUEST', 'no-such-event', 'payload');
      await expectError('BAD_REQUEST', '__proto__', {});
      // Another socket's private room, on this replica or the other one.
      await expectError('FORBIDDEN', 'join', b1.socket.id);
      await expectError('FORBIDDEN', 'join', a2.socket.id);
      await expectError('FORBIDDEN', 'room:emit', b1.socket.id, 'forged private message');
      await expectError('FORBIDDEN', 'room:emit', a1.socket.id, 'to myself');
      await expectError('FORBIDDEN', 'leave', a1.socket.id);
      // Too many rooms: the 33rd is refused.
      for (let i = 0; i < 32; i++) assert.ok((await emitAck(a2, 'join', `r${i}`)).ok);
      const tooMany = await emitAck(a2, 'join', 'one-too-many');
      assert.equal(tooMany.error?.code, 'TOO_MANY_ROOMS');

      // Without an ack callback: the refusal comes back as error:event.
      a1.socket.emit('room:emit', b1.socket.id, 'forged');
      a1.socket.emit('broadcast');
      a1.socket.emit('no-such-event');
      await waitFor(() => a1.errorEvents.length >= 3, { what: 'three error:event replies', timeoutMs: WAIT_MS });
      assert.deepEqual(a1.errorEvents.map((e) => `${e.event} ${e.code}`).sort(), [
        'broadcast BAD_REQUEST',
        'no-such-event BAD_REQUEST',
        'room:emit FORBIDDEN',
      ]);

      const fenceId = await fence(a1, everyone);
      for (const client of everyone) {
        assert.deepEqual(client.broadcasts.map((m) => m.id), [fenceId], `${client.name} received only the fence`);
        assert.deepEqual(client.roomMessages, [], `${client.name} received a room message`);
        assert.ok(client.socket.connected, `${client.name} is still connected`);
      }
    } finally {
      await Promise.all([stopApp(a.app), stopApp(b.app)]);
    }
  });
});

describe('per-socket rate limit', () => {
  it('refuses a flood with RATE_LIMITED, broadcasts only what it accepted, then disconnects the flooder', async () => {
    const { app, url } = await startApp({ RATE_LIMIT_EVENTS_PER_SEC: '20', RATE_LIMIT_BURST: '10', RATE_LIMIT_DISCONNECT_AFTER: '100' });
    try {
      const calm = await connect('calm', url, { transports: ['polling'] });
      const flooder = await connect('flooder', url, { transports: ['websocket'] });
      const replies: Array<{ ok: boolean; error?: AckError['error'] }> = [];
      const started = performance.now();
      // With ackTimeout set, ack callbacks are error-first; an ack never answered (after the disconnect) errs.
      for (let i = 0; i < 400; i++) {
        flooder.socket.emit('broadcast', { flood: i }, (error: unknown, reply: { ok: boolean }) => {
          if (!error) replies.push(reply);
        });
      }
      await waitFor(() => flooder.disconnects.length > 0, { what: 'the flooder to be disconnected', timeoutMs: WAIT_MS });
      const elapsedS = (performance.now() - started) / 1000;
      assert.deepEqual(flooder.disconnects, ['io server disconnect'], 'told by the server: it will not reconnect by itself');
      const accepted = replies.filter((r) => r.ok).length;
      const refused = replies.filter((r) => r.error?.code === 'RATE_LIMITED');
      assert.ok(accepted >= 10 && accepted <= 10 + Math.ceil(20 * elapsedS) + 1, `accepted ${accepted} in ${elapsedS} s`);
      // The 101st refusal says goodbye; events already read in the same burst are refused too.
      assert.ok(refused.length >= 101, `${refused.length} refused`);
      assert.equal(accepted + refused.length, replies.length, 'every reply is an acceptance or RATE_LIMITED');
      assert.match(refused[100]?.error?.message ?? '', /disconnecting/);
      assert.doesNotMatch(refused[99]?.error?.message ?? '', /disconnecting/);

      // The calm client got exactly the accepted floods, and is served as before.
      await fence(calm, [calm]);
      assert.equal(calm.broadcasts.filter((m) => typeof (m.payload as { flood?: number })?.flood === 'number').length, accepted);
      const me = await emitAck(calm, 'whoami');
      assert.ok(me.ok);
      assert.equal(await healthz(url), 200);
    } finally {
      await stopApp(app);
    }
  });

  it('never disconnects with RATE_LIMIT_DISCONNECT_AFTER=0; refusals without an ack come back as error:event', async () => {
    const { app, url } = await startApp({ RATE_LIMIT_EVENTS_PER_SEC: '50', RATE_LIMIT_BURST: '5', RATE_LIMIT_DISCONNECT_AFTER: '0' });
    try {
      const flooder = await connect('flooder', url, { transports: ['websocket'] });
      for (let i = 0; i < 300; i++) flooder.socket.emit('no-such-event');
      await waitFor(() => flooder.errorEvents.length >= 300, { what: '300 error:event replies', timeoutMs: WAIT_MS });
      const limited = flooder.errorEvents.filter((e) => e.code === 'RATE_LIMITED').length;
      assert.ok(limited >= 250, `${limited} RATE_LIMITED`);
      assert.equal(flooder.errorEvents.length - limited, flooder.errorEvents.filter((e) => e.code === 'BAD_REQUEST').length);
      assert.ok(flooder.socket.connected);
      // The bucket refills: the same socket is served again.
      await waitFor(async () => (await emitAck(flooder, 'whoami')).ok, { what: 'whoami accepted again', timeoutMs: WAIT_MS, intervalMs: 100 });
    } finally {
      await stopApp(app);
    }
  });

  it('is off with RATE_LIMIT_EVENTS_PER_SEC=0', async () => {
    const { app, url } = await startApp({ RATE_LIMIT_EVENTS_PER_SEC: '0' });
    try {
      const client = await connect('fast', url, { transports: ['websocket'] });
      const replies = await Promise.all(Array.from({ length: 300 }, () => emitAck(client, 'whoami')));
      assert.equal(replies.filter((r) => r.ok).length, 300);
    } finally {
      await stopApp(app);
    }
  });
});

describe('Origin check on both transports', () => {
  it('refuses another origin by default; lets same-origin pages and non-browser clients in', async () => {
    const { app, url } = await startApp();
    try {
      const evil = { origin: 'http://evil.example' };
      const polling = await pollingHandshake(url, evil);
      assert.equal(polling.status, 403);
      assert.match((JSON.parse(polling.body) as { message: string }).message, /^origin "http:\/\/evil\.example" is not allowed/);
      const ws = await websocketHandshake(url, evil);
      assert.equal(ws.status, 403);
      assert.match(ws.body, /is not allowed/);
      for (const transport of ['polling', 'websocket'] as const) {
        const refused = await refusal(url, { transports: [transport], extraHeaders: evil });
        assert.match(refused.message, /error/, `${transport}: ${refused.message}`);
      }

      assert.equal((await pollingHandshake(url, { origin: url })).status, 200, 'same origin');
      assert.equal((await websocketHandshake(url, { origin: url })).status, 101, 'same origin');
      assert.equal((await pollingHandshake(url, {})).status, 200, 'no Origin: not a browser');
      assert.equal((await websocketHandshake(url, {})).status, 101, 'no Origin: not a browser');
      const sameOrigin = await connect('same-origin', url, { extraHeaders: { origin: url } });
      assert.ok(sameOrigin.socket.connected);
    } finally {
      await stopApp(app);
    }
  });

  it('lets exactly CORS_ORIGINS in besides the same origin', async () => {
    const { app, url } = await startApp({ CORS_ORIGINS: 'https://app.example' });
    try {
      assert.equal((await websocketHandshake(url, { origin: 'https://app.example' })).status, 101);
      assert.equal((await pollingHandshake(url, { origin: 'https://app.example' })).status, 200);
      assert.equal((await websocketHandshake(url, { origin: 'https://evil.example' })).status, 403);
      assert.equal((await pollingHandshake(url, { origin: 'https://evil.example' })).status, 403);
    } finally {
      await stopApp(app);
    }
  });
});

describe('JWT authentication', () => {
  const secret = 's'.repeat(48);
  const key = new TextEncoder().encode(secret);
  const hs256 = (claims: JWTPayload, { expiresIn = '5m', with: signingKey = key } = {}) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime(expiresIn).sign(signingKey);

  it('HS256: a valid token connects; missing, bad signature, expired, wrong audience, no exp and garbage are refused with a reason', async () => {
    const { app, url } = await startApp({ AUTH_JWT_SECRET: secret, AUTH_AUDIENCE: 'wsk' });
    try {
      const ok = await connect('authorized', url, { auth: { token: await hs256({ sub: 'alice', aud: 'wsk' }) } });
      assert.ok((await emitAck(ok, 'whoami')).ok);
      // Both transports carry the auth payload in the socket.io CONNECT packet.
      await connect('authorized-ws', url, { transports: ['websocket'], auth: { token: await hs256({ aud: 'wsk' }) } });

      const cases: Array<[string, unknown, RegExp]> = [
        ['missing', undefined, /^unauthorized: missing token/],
        ['empty', '', /^unauthorized: missing token/],
        ['not a string', 42, /^unauthorized: malformed token$/],
        ['garbage', 'not.a.jwt', /^unauthorized: malformed token$/],
        ['bad signature', await hs256({ aud: 'wsk' }, { with: new TextEncoder().encode('t'.repeat(48)) }), /^unauthorized: bad signature$/],
        ['expired', await hs256({ aud: 'wsk' }, { expiresIn: '-1m' }), /^unauthorized: token expired$/],
        ['wrong audience', await hs256({ aud: 'other' }), /^unauthorized: wrong aud claim$/],
        [
          'no exp',
          await new SignJWT({ aud: 'wsk' }).setProtectedHeader({ alg: 'HS256' }).sign(key),
          /^unauthorized: missing exp claim$/,
        ],
        ['alg none', new UnsecuredJWT({ aud: 'wsk' }).setExpirationTime('5m').encode(), /^unauthorized: /],
        ['huge', 'a'.repeat(9000), /^unauthorized: malformed token$/],
      ];
      for (const [what, token, reason] of cases) {
        const refused = await refusal(url, { auth: token === undefined ? {} : { token } });
        assert.match(refused.message, reason, what);
        assert.equal(refused.code, 'UNAUTHORIZED', what);
      }
    } finally {
      await stopApp(app);
    }
  });

  it('restricts join and room:emit to the rooms claim (exact names and prefix*); no claim = any room', async () => {
    const { app, url } = await startApp({ AUTH_JWT_SECRET: secret });
    try {
      const limited = await connect('limited', url, { auth: { token: await hs256({ rooms: ['lobby', 'team-1:*'] }) } });
      const free = await connect('free', url, { auth: { token: await hs256({}) } });
      assert.ok((await emitAck(limited, 'join', 'lobby')).ok);
      assert.ok((await emitAck(limited, 'join', 'team-1:dev')).ok);
      for (const [event, ...args] of [
        ['join', 'team-2:dev'],
        ['join', 'lobby2'],
        ['room:emit', 'secret-room', 'hello'],
      ]) {
        const reply = await emitAck(limited, event!, ...args);
        assert.equal(reply.error?.code, 'FORBIDDEN', `${event} ${args[0]}`);
      }
      assert.ok((await emitAck(limited, 'room:emit', 'lobby', 'hello')).ok);
      assert.ok((await emitAck(limited, 'leave', 'lobby')).ok);
      assert.ok((await emitAck(free, 'join', 'secret-room')).ok);
      assert.ok((await emitAck(free, 'join', 'team-2:dev')).ok);
      assert.equal(free.roomMessages.length, 0, 'the refused room:emit reached no one');

      const badClaim = await refusal(url, { auth: { token: await hs256({ rooms: 'lobby' }) } });
      assert.match(badClaim.message, /^unauthorized: the rooms claim must be an array/);
    } finally {
      await stopApp(app);
    }
  });

  it('runs again when a session is recovered (ADAPTER=redis-streams): an expired token cannot resume', async () => {
    const { app, url } = await startApp({ AUTH_JWT_SECRET: secret, ADAPTER: 'redis-streams' });
    try {
      const client = await connect('recovering', url, {
        transports: ['websocket'],
        auth: { token: await hs256({}) },
        reconnection: true,
        reconnectionDelay: 50,
        reconnectionDelayMax: 100,
      });
      // The next reconnection sends this token instead.
      client.socket.auth = { token: await hs256({}, { expiresIn: '-1m' }) };
      const errors: string[] = [];
      client.socket.on('connect_error', (error) => errors.push(error.message));
      client.socket.io.engine.close();
      await waitFor(() => errors.length > 0, { what: 'the recovery attempt to be refused', timeoutMs: WAIT_MS });
      assert.deepEqual(errors, ['unauthorized: token expired']);
      assert.equal(client.socket.recovered, false);
      client.socket.close();
    } finally {
      await stopApp(app);
    }
  });

  it('JWKS: tokens signed by a key in the set connect; other keys are refused; an unreachable JWKS is "unavailable"', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const other = await generateKeyPair('ES256');
    const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] };
    const jwksServer = createServer((req, res) => {
      res.writeHead(req.url === '/jwks.json' ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(req.url === '/jwks.json' ? jwks : {}));
    });
    servers.add(jwksServer);
    await new Promise<void>((resolve) => jwksServer.listen(0, HOST, resolve));
    const jwksUrl = `http://${HOST}:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
    type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
    const es256 = (signingKey: PrivateKey, kid: string, expiresIn = '5m') =>
      new SignJWT({ sub: 'bob' }).setProtectedHeader({ alg: 'ES256', kid }).setIssuer('https://id.example').setExpirationTime(expiresIn).sign(signingKey);

    const { app, url } = await startApp({ AUTH_JWKS_URL: jwksUrl, AUTH_ISSUER: 'https://id.example' });
    try {
      const ok = await connect('jwks-ok', url, { auth: { token: await es256(privateKey, 'k1') } });
      assert.ok((await emitAck(ok, 'whoami')).ok);
      assert.match((await refusal(url, { auth: { token: await es256(other.privateKey, 'k1') } })).message, /^unauthorized: bad signature$/);
      assert.match(
        (await refusal(url, { auth: { token: await es256(other.privateKey, 'k2') } })).message,
        /^unauthorized: no signing key matches the token$/,
      );
      assert.match((await refusal(url, { auth: { token: await es256(privateKey, 'k1', '-1m') } })).message, /^unauthorized: token expired$/);
      // An HS256 token "signed" with the public key must not pass (algorithm confusion).
      const confused = await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode(JSON.stringify(jwks.keys[0])));
      assert.match((await refusal(url, { auth: { token: confused } })).message, /^unauthorized: signing algorithm not allowed$/);
    } finally {
      await stopApp(app);
    }

    // A replica whose JWKS cannot be fetched says so, instead of blaming the token.
    await new Promise<void>((resolve) => jwksServer.close(() => resolve()));
    servers.delete(jwksServer);
    const down = await startApp({ AUTH_JWKS_URL: jwksUrl });
    try {
      const refused = await refusal(down.url, { auth: { token: await es256(privateKey, 'k1') } });
      assert.match(refused.message, /^unavailable: cannot fetch the signing keys/);
      assert.equal(refused.code, 'UNAVAILABLE');
    } finally {
      await stopApp(down.app);
    }
  });
});
