/**
 * `npm run stack -- up` hands the replica settings of its environment to the
 * replicas it starts (real redis-server, replicas and HAProxy), and a bad
 * one stops it with the replica's own message.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { httpRequest } from '../scenarios/lib/raw-polling.ts';
import { waitFor } from '../scenarios/lib/wait-for.ts';
import { runCli } from './support/run-cli.ts';
import { pidsTagged } from './support/run-tag.ts';

/** The Engine.IO handshake's settings, as a client receives them. */
async function handshake(baseUrl: string): Promise<{ pingInterval: number; pingTimeout: number }> {
  const reply = await httpRequest(`${baseUrl}/socket.io/?EIO=4&transport=polling`, {});
  assert.equal(reply.status, 200, reply.body);
  assert.ok(reply.body.startsWith('0{'), reply.body);
  return JSON.parse(reply.body.slice(1)) as { pingInterval: number; pingTimeout: number };
}

test('PING_INTERVAL_MS=300 reaches the handshake through the proxy and at the replica', { timeout: 90_000 }, async () => {
  const tag = randomUUID();
  // PING_TIMEOUT_MS empty (= unset) whatever the caller's environment says, so its default shows.
  const run = runCli('scenarios/stack-cli.ts', ['up', '--replicas', '1'], { WSK_RUN_ID: tag, PING_INTERVAL_MS: '300', PING_TIMEOUT_MS: '' });
  await waitFor(() => run.out().includes('Ctrl-C stops everything') || run.child.exitCode !== null, {
    what: 'stack up to print its endpoints',
    timeoutMs: 60_000,
  });
  const proxyUrl = /^proxy: +(http:\/\/\S+)/m.exec(run.out())?.[1];
  const replicaUrl = /^replica: +replica-1 (http:\/\/\S+)/m.exec(run.out())?.[1];
  assert.ok(proxyUrl && replicaUrl, `${run.out()}\n${run.err()}`);
  assert.match(run.out(), /^settings: .*\bPING_INTERVAL_MS=300\b/m);
  for (const url of [proxyUrl, replicaUrl]) {
    const settings = await handshake(url);
    assert.equal(settings.pingInterval, 300, url);
    assert.equal(settings.pingTimeout, 20_000, `${url}: only what was set changes`);
  }
  run.child.kill('SIGINT');
  assert.equal(await run.exited, 130);
  assert.deepEqual(pidsTagged(tag), [], 'processes of the stack still alive after Ctrl-C');
});

test('a bad replica setting stops `stack up` with the replica\'s message, non-zero, leaving nothing running', { timeout: 60_000 }, async () => {
  const tag = randomUUID();
  const run = runCli('scenarios/stack-cli.ts', ['up', '--replicas', '2'], { WSK_RUN_ID: tag, PING_INTERVAL_MS: 'soon' });
  const code = await run.exited;
  assert.equal(code, 1, `${run.out()}\n${run.err()}`);
  assert.match(run.err(), /replica-\d exited with code 2/);
  assert.match(run.err(), /PING_INTERVAL_MS: must be a whole number between 1 and 86400000 \(got "soon"\)/);
  assert.doesNotMatch(run.out(), /Ctrl-C stops everything/);
  assert.deepEqual(pidsTagged(tag), [], 'processes of the failed stack still alive');
});
