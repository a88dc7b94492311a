/**
 * The scenarios on the real local topology: redis-server, three replicas on
 * 127.0.1.x, the loopback DNS responder and HAProxy running haproxy/haproxy.cfg.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { liveManagedCount } from '../scenarios/lib/managed-process.ts';
import { waitFor } from '../scenarios/lib/wait-for.ts';
import { LocalTopology } from '../scenarios/local/local-topology.ts';
import { SCENARIOS } from '../scenarios/registry.ts';
import { runScenarios } from '../scenarios/run-scenarios.ts';
import type { ScenarioResult } from '../scenarios/scenario.ts';
import { runCli } from './support/run-cli.ts';
import { pidsTagged } from './support/run-tag.ts';

const describe = (r: ScenarioResult) => `${r.name}: ${r.failures.join('; ')} ${JSON.stringify(r.metrics)}`;

/** Scenarios that do not apply to a proxy and must report themselves skipped (not silently pass). */
const NOT_FOR: Record<'haproxy' | 'nginx', string[]> = {
  haproxy: ['affinity-ip'],
  nginx: ['no-cookie-control'],
};
/**
 * Nor to this topology: Redis HA modes (test/redis-modes.test.ts runs them),
 * Swarm's rolling update (the Docker suites) and `tls`, which needs --tls
 * (scenarios/local/tls-reload.integration.test.ts and the --tls runs).
 */
const NOT_LOCAL_STANDALONE = ['redis-failover', 'redis-switchover', 'redis-cluster-failover', 'rolling-update', 'tls'];

for (const proxy of ['haproxy', 'nginx'] as const) {
  test(`every scenario passes on the local topology behind ${proxy} (3 replicas)`, { timeout: 240_000 }, async () => {
    const topology = await LocalTopology.up({ kind: 'local', proxy, replicas: 3, adapter: 'redis' });
    try {
      const results = await runScenarios(topology, SCENARIOS, { clients: 30 });
      for (const result of results) {
        assert.ok(result.ok, describe(result));
        if (NOT_FOR[proxy].includes(result.name) || NOT_LOCAL_STANDALONE.includes(result.name)) assert.ok(result.skipped, `${result.name} should be skipped`);
        else assert.equal(result.skipped, undefined, `${result.name} was skipped: ${result.skipped}`);
      }
      if (proxy === 'haproxy') {
        const control = results.find((r) => r.name === 'no-cookie-control')!;
        assert.ok(Number(control.metrics.sessionIdUnknown) > 0, 'the negative control must see "Session ID unknown"');
      }
    } finally {
      await topology.down();
    }
    assert.equal(liveManagedCount(), 0, 'processes still running after down()');
  });
}

test('the CLI writes the documented JSON, exits 0, and leaves no process behind', { timeout: 120_000 }, async () => {
  const tag = randomUUID();
  const json = join(await mkdtemp(join(tmpdir(), 'wsk-cli-')), 'report.json');
  const run = runCli('scenarios/cli.ts', ['--only', 'affinity,broadcast', '--clients', '12', '--replicas', '2', '--json', json], {
    WSK_RUN_ID: tag,
  });
  const code = await run.exited;
  assert.equal(code, 0, `exit ${code}\n${run.out()}\n${run.err()}`);
  assert.match(run.out(), /^affinity\s+PASS/m);
  const report = JSON.parse(await readFile(json, 'utf8')) as { scenarios: Array<{ name: string; ok: boolean; metrics: Record<string, unknown> }> };
  assert.deepEqual(
    report.scenarios.map((s) => [s.name, s.ok, typeof s.metrics]),
    [
      ['affinity', true, 'object'],
      ['broadcast', true, 'object'],
    ],
  );
  assert.deepEqual(pidsTagged(tag), [], 'processes of the run still alive');
});

test('a usage error exits 2 with the problem named', { timeout: 30_000 }, async () => {
  const run = runCli('scenarios/cli.ts', ['--replicas', 'lots'], {});
  assert.equal(await run.exited, 2);
  assert.match(run.err(), /--replicas/);
});

test('Ctrl-C on `stack up` stops every process it started', { timeout: 90_000 }, async () => {
  const tag = randomUUID();
  const run = runCli('scenarios/stack-cli.ts', ['up', '--replicas', '2'], { WSK_RUN_ID: tag });
  await waitFor(() => run.out().includes('Ctrl-C stops everything') || run.child.exitCode !== null, {
    what: 'stack up to print its endpoints',
    timeoutMs: 60_000,
  });
  assert.match(run.out(), /^proxy: +http:\/\/127\.0\.0\.1:\d+/m, run.err());
  assert.ok(pidsTagged(tag).length >= 4, 'redis, 2 replicas and haproxy should be running');
  run.child.kill('SIGINT');
  assert.equal(await run.exited, 130);
  assert.deepEqual(pidsTagged(tag), [], 'processes of the stack still alive after Ctrl-C');
});
