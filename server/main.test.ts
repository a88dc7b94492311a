/** server/main.ts as a real process: exit codes, signals, bounded shutdown. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freeTcpPort } from '../scenarios/lib/free-port.ts';
import { type ManagedProcess, spawnManaged } from '../scenarios/lib/managed-process.ts';
import { waitFor } from '../scenarios/lib/wait-for.ts';
import { type RedisServerHandle, startRedisServer } from '../scenarios/local/redis-server.ts';

const MAIN = join(import.meta.dirname, 'main.ts');
const HOST = '127.0.1.4';
const children: ManagedProcess[] = [];
let redis: RedisServerHandle;

before(async () => {
  redis = await startRedisServer();
});
after(async () => {
  await Promise.all(children.map((child) => child.stop(2000)));
  await redis?.stop();
});

function spawnMain(env: Record<string, string>): ManagedProcess {
  const child = spawnManaged(process.execPath, ['--import', 'tsx', MAIN], {
    name: 'main',
    // Only what main needs: no inherited PORT/REDIS_URL from the developer's shell.
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
  });
  children.push(child);
  return child;
}

async function status(url: string): Promise<number> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await response.body?.cancel();
    return response.status;
  } catch {
    return 0;
  }
}

async function startMain(extra: Record<string, string>): Promise<{ child: ManagedProcess; base: string }> {
  const port = await freeTcpPort(HOST);
  const child = spawnMain({ PORT: String(port), HOST, REPLICA_ID: 'main-test', REDIS_URL: redis.url, ...extra });
  const base = `http://${HOST}:${port}`;
  await waitFor(
    async () => {
      if (!child.running) throw new Error(`main.ts ${child.describeExit()}:\n${child.output()}`);
      return (await status(`${base}/readyz`)) === 200;
    },
    { what: 'main.ts to answer /readyz 200', timeoutMs: 15_000, intervalMs: 100 },
  );
  return { child, base };
}

describe('server/main.ts', () => {
  it('exits 2 on invalid configuration, listing every problem on stderr', async () => {
    const child = spawnMain({ PORT: 'http', ADAPTER: 'kafka', LOG_LEVEL: 'loud' });
    const exit = await child.exited;
    assert.equal(exit.code, 2, child.output());
    const output = child.output();
    assert.match(output, /invalid configuration \(3 problems\)/);
    for (const name of ['PORT', 'ADAPTER', 'LOG_LEVEL']) assert.match(output, new RegExp(`^  ${name}: `, 'm'));
  });

  it('on SIGTERM: /readyz 503 at once, drains, exits 0 within SHUTDOWN_TIMEOUT_MS', async () => {
    const { child, base } = await startMain({ DRAIN_DELAY_MS: '400', SHUTDOWN_TIMEOUT_MS: '5000', LOG_LEVEL: 'info' });
    assert.match(child.output(), /"msg":"listening"/);
    assert.match(child.output(), /"replica":"main-test"/);
    const started = Date.now();
    child.signal('SIGTERM');
    await waitFor(async () => (await status(`${base}/readyz`)) === 503, {
      what: '/readyz to turn 503 after SIGTERM',
      timeoutMs: 2000,
      intervalMs: 20,
    });
    assert.equal(await status(`${base}/healthz`), 200, 'alive while draining');
    const exit = await child.exited;
    assert.equal(exit.code, 0, child.output());
    assert.ok(Date.now() - started < 5000);
    assert.match(child.output(), /"msg":"shutdown complete"/);
  });

  it('exits 1 when the shutdown overruns SHUTDOWN_TIMEOUT_MS', async () => {
    const { child, base } = await startMain({ DRAIN_DELAY_MS: '100', SHUTDOWN_TIMEOUT_MS: '300', LOG_LEVEL: 'info' });
    // A polling session that never polls again: its orderly close waits for
    // a request that never comes, so the drain outlasts the bound.
    const handshake = await fetch(`${base}/socket.io/?EIO=4&transport=polling`);
    assert.equal(handshake.status, 200);
    await handshake.text();
    child.signal('SIGTERM');
    const exit = await child.exited;
    assert.equal(exit.code, 1, child.output());
    assert.match(child.output(), /shutdown exceeded SHUTDOWN_TIMEOUT_MS/);
  });
});
