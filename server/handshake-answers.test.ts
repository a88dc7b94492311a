/**
 * Conformance of every handshake refusal, byte for byte, on both transports:
 * a real replica (createApp; the in-memory adapter, since none of this
 * touches Redis) next to a plain Socket.IO server with no options, whose
 * engine.io answers are the reference for the checks both should make.
 */
import assert from 'node:assert/strict';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Server } from 'socket.io';
import WebSocket from 'ws';
import { type RawHandshakeAnswer, rawHandshake } from '../scenarios/lib/handshake-probe.ts';
import { decodePollingPayload, httpRequest } from '../scenarios/lib/raw-polling.ts';
import { UNSUPPORTED_VERSION_ANSWERS } from '../scenarios/lib/version-refusals.ts';
import { type AppHandle, createApp } from './app.ts';
import { loadConfig } from './config.ts';

const HOST = '127.0.0.1';
const EVIL = 'http://evil.example';
/** Plain engine.io's answer to a polling handshake of a version it does not speak (allowEIO3 off); compared with the reference below. */
const UNSUPPORTED_POLLING = UNSUPPORTED_VERSION_ANSWERS.polling;
/** The same refusal before a WebSocket upgrade, in engine.io's abortUpgrade shape. */
const UNSUPPORTED_WEBSOCKET = UNSUPPORTED_VERSION_ANSWERS.websocket;
/** Missing, unknown, malformed and duplicated versions: the protocol's "missing or wrong mandatory parameter". */
const BAD_VERSIONS = ['', 'EIO=3', 'EIO=abc', 'EIO=', 'EIO=5', 'EIO=3&EIO=4', 'EIO=4&EIO=3'];

const apps = new Set<AppHandle>();
let reference: HttpServer;
let referenceUrl: string;

before(async () => {
  reference = createServer();
  new Server(reference);
  await new Promise<void>((resolve) => reference.listen(0, HOST, resolve));
  referenceUrl = `http://${HOST}:${(reference.address() as AddressInfo).port}`;
});

after(async () => {
  await Promise.allSettled([...apps].map((app) => app.close()));
  reference.closeAllConnections();
  await new Promise((resolve) => reference.close(resolve));
});

async function startApp(env: Record<string, string> = {}): Promise<{ app: AppHandle; url: string }> {
  const config = loadConfig({ PORT: '0', HOST, REPLICA_ID: `answers-${apps.size + 1}`, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent', ...env });
  const app = await createApp(config, { inMemoryAdapter: true });
  apps.add(app);
  return { app, url: `http://${HOST}:${app.address().port}` };
}

const wire = (answer: RawHandshakeAnswer) => ({ status: answer.status, contentType: answer.contentType, body: answer.body });
const query = (version: string, transport: string) => `${version}${version ? '&' : ''}transport=${transport}`;

/** Open a Socket.IO session by hand over `transport` and send CONNECT without auth: the packet that answers it. */
async function connectAnswer(url: string, transport: 'polling' | 'websocket'): Promise<string> {
  if (transport === 'polling') {
    const open = await httpRequest(`${url}/socket.io/?EIO=4&transport=polling`, {});
    assert.equal(open.status, 200, open.body);
    const { sid } = JSON.parse(open.body.slice(1)) as { sid: string };
    const session = `${url}/socket.io/?EIO=4&transport=polling&sid=${encodeURIComponent(sid)}`;
    assert.equal((await httpRequest(session, { method: 'POST', body: '40' })).status, 200);
    const packets = decodePollingPayload((await httpRequest(session, {})).body);
    await httpRequest(session, { method: 'POST', body: '1' }).catch(() => undefined);
    return packets.find((packet) => packet.startsWith('4')) ?? `no Socket.IO packet in ${JSON.stringify(packets)}`;
  }
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`);
  try {
    return await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no CONNECT answer within 5 s')), 5000);
      ws.on('message', (data: Buffer) => {
        const packet = data.toString();
        if (packet.startsWith('0')) ws.send('40');
        else if (packet.startsWith('4')) {
          clearTimeout(timer);
          resolve(packet);
        }
      });
      ws.once('error', reject);
    });
  } finally {
    ws.terminate();
  }
}

describe('a handshake with a missing or unsupported EIO', () => {
  let url: string;
  before(async () => {
    ({ url } = await startApp());
  });

  it('is answered on polling exactly as plain engine.io answers it: 400, code 5', async () => {
    for (const version of BAD_VERSIONS) {
      const answer = wire(await rawHandshake(url, 'polling', query(version, 'polling')));
      assert.deepEqual(answer, UNSUPPORTED_POLLING, `?${query(version, 'polling')}`);
      // Duplicated parameters pass engine.io's own check (it reads the last one); they stay refused here.
      if (!version.includes('&')) {
        assert.deepEqual(wire(await rawHandshake(referenceUrl, 'polling', query(version, 'polling'))), answer, `plain engine.io, ?${version}`);
      }
    }
  });

  it('is answered 400 before any WebSocket upgrade, with the same message', async () => {
    for (const version of BAD_VERSIONS) {
      assert.deepEqual(wire(await rawHandshake(url, 'websocket', query(version, 'websocket'))), UNSUPPORTED_WEBSOCKET, `?${version}`);
    }
    // Plain engine.io upgrades first and only then writes its 400 onto the open WebSocket.
    assert.equal((await rawHandshake(referenceUrl, 'websocket', query('EIO=3', 'websocket'))).status, 101);
  });

  it('is 400 even from a refused Origin: the request is malformed wherever it goes', async () => {
    assert.deepEqual(wire(await rawHandshake(url, 'polling', 'EIO=3&transport=polling', { origin: EVIL })), UNSUPPORTED_POLLING);
    assert.deepEqual(wire(await rawHandshake(url, 'websocket', 'EIO=3&transport=websocket', { origin: EVIL })), UNSUPPORTED_WEBSOCKET);
  });

  it('leaves EIO=4 and engine.io\'s own checks alone (unknown transport, method, sid)', async () => {
    assert.equal((await rawHandshake(url, 'polling', 'EIO=4&transport=polling')).status, 200);
    assert.equal((await rawHandshake(url, 'websocket', 'EIO=4&transport=websocket')).status, 101);
    for (const [transport, q] of [
      ['polling', 'EIO=4&transport=foo'],
      ['polling', 'EIO=4&transport=polling&sid=nope'],
      ['websocket', 'EIO=4&transport=foo'],
      ['websocket', 'EIO=4&transport=websocket&sid=nope'],
    ] as const) {
      const answer = wire(await rawHandshake(url, transport, q));
      assert.equal(answer.status, 400, `${transport} ?${q}: ${answer.body}`);
      assert.deepEqual(answer, wire(await rawHandshake(referenceUrl, transport, q)), `${transport} ?${q} as plain engine.io`);
    }
    const post = await httpRequest(`${url}/socket.io/?EIO=4&transport=polling`, { method: 'POST', body: '40' });
    const referencePost = await httpRequest(`${referenceUrl}/socket.io/?EIO=4&transport=polling`, { method: 'POST', body: '40' });
    assert.deepEqual([post.status, post.body], [400, '{"code":2,"message":"Bad handshake method"}']);
    assert.deepEqual([post.status, post.body], [referencePost.status, referencePost.body]);
  });
});

describe('a handshake from a disallowed Origin', () => {
  it('is 403 on both transports (RFC 6455 §4.2.2 for the WebSocket), code 4 on polling', async () => {
    const { url } = await startApp({ CORS_ORIGINS: 'https://app.example' });
    for (const origin of [EVIL, 'null']) {
      const expected = `origin ${JSON.stringify(origin)} is not allowed (same origin only, or CORS_ORIGINS)`;
      assert.deepEqual(wire(await rawHandshake(url, 'polling', 'EIO=4&transport=polling', { origin })), {
        status: 403,
        contentType: 'application/json',
        body: JSON.stringify({ code: 4, message: expected }),
      });
      assert.deepEqual(wire(await rawHandshake(url, 'websocket', 'EIO=4&transport=websocket', { origin })), {
        status: 403,
        contentType: 'text/html',
        body: expected,
      });
    }
    assert.equal((await rawHandshake(url, 'polling', 'EIO=4&transport=polling', { origin: 'https://app.example' })).status, 200);
    assert.equal((await rawHandshake(url, 'websocket', 'EIO=4&transport=websocket', { origin: 'https://app.example' })).status, 101);
  });
});

describe('a handshake at a draining replica', () => {
  it('is 503 on both transports (come back elsewhere), while wrong requests still hear 400 / 403', async () => {
    const { app, url } = await startApp({ DRAIN_DELAY_MS: '5000', SHUTDOWN_TIMEOUT_MS: '10000' });
    void app.drain();
    assert.deepEqual(wire(await rawHandshake(url, 'polling', 'EIO=4&transport=polling')), {
      status: 503,
      contentType: 'application/json',
      body: '{"code":4,"message":"replica is draining"}',
    });
    assert.deepEqual(wire(await rawHandshake(url, 'websocket', 'EIO=4&transport=websocket')), {
      status: 503,
      contentType: 'text/html',
      body: 'replica is draining',
    });
    assert.deepEqual(wire(await rawHandshake(url, 'polling', 'EIO=3&transport=polling')), UNSUPPORTED_POLLING);
    assert.equal((await rawHandshake(url, 'websocket', 'EIO=4&transport=websocket', { origin: EVIL })).status, 403);
    await app.close();
  });
});

describe('a connection without a token when authentication is on', () => {
  it('gets through the Engine.IO handshake and is refused by Socket.IO: CONNECT_ERROR, on both transports', async () => {
    const { url } = await startApp({ AUTH_JWT_SECRET: 's'.repeat(48) });
    for (const transport of ['polling', 'websocket'] as const) {
      assert.equal(
        await connectAnswer(url, transport),
        '44{"message":"unauthorized: missing token (send it as auth.token)","data":{"code":"UNAUTHORIZED"}}',
        transport,
      );
    }
  });
});
