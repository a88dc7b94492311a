import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { computeReadiness, healthRoutes } from './health.ts';
import { createRouter } from './http-router.ts';
import type { ReadyReply } from './protocol.ts';

describe('computeReadiness', () => {
  it('is ready only while running with every Redis connection ready', () => {
    assert.deepEqual(computeReadiness({ replica: 'r1', phase: 'running', redis: { pub: 'ready', sub: 'ready' } }), {
      status: 'ready',
      replica: 'r1',
      draining: false,
      redis: { pub: 'ready', sub: 'ready' },
    });
  });

  it('names the connections that are not ready', () => {
    const reply = computeReadiness({ replica: 'r1', phase: 'running', redis: { pub: 'ready', sub: 'reconnecting' } });
    assert.equal(reply.status, 'unavailable');
    assert.equal(reply.reason, 'redis not ready: sub reconnecting');
  });

  it('is unavailable while draining or closed, whatever Redis says', () => {
    const redis = { pub: 'ready', sub: 'ready' } as const;
    assert.equal(computeReadiness({ replica: 'r', phase: 'draining', redis }).reason, 'draining');
    assert.equal(computeReadiness({ replica: 'r', phase: 'closed', redis }).reason, 'closed');
    assert.equal(computeReadiness({ replica: 'r', phase: 'draining', redis }).draining, true);
  });

  it('is unavailable with no Redis connection at all', () => {
    assert.equal(computeReadiness({ replica: 'r', phase: 'running', redis: {} }).status, 'unavailable');
  });
});

describe('health routes', () => {
  let server: Server;
  let base: string;
  let ready: ReadyReply = { status: 'ready', replica: 'r9', draining: false, redis: { main: 'ready' } };

  before(async () => {
    server = createServer(createRouter(healthRoutes('r9', () => ready)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('/healthz answers 200 with the replica id', async () => {
    const response = await fetch(`${base}/healthz`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('cache-control'), 'no-store');
    assert.deepEqual(await response.json(), { status: 'ok', replica: 'r9' });
  });

  it('/readyz follows readiness: 200 when ready, 503 with the reason otherwise', async () => {
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    ready = { status: 'unavailable', reason: 'draining', replica: 'r9', draining: true, redis: { main: 'ready' } };
    const response = await fetch(`${base}/readyz?probe=1`);
    assert.equal(response.status, 503);
    assert.equal(((await response.json()) as ReadyReply).reason, 'draining');
  });

  it('answers HEAD and OPTIONS too (HAProxy health checks)', async () => {
    assert.equal((await fetch(`${base}/healthz`, { method: 'HEAD' })).status, 200);
    assert.equal((await fetch(`${base}/healthz`, { method: 'OPTIONS' })).status, 200);
  });

  it('answers 404 for every other path', async () => {
    for (const path of ['/', '/healthz/', '/readyz/x', '/metrics', '/../etc/passwd']) {
      const response = await fetch(`${base}${path}`);
      assert.equal(response.status, 404, path);
      await response.body?.cancel();
    }
  });
});
