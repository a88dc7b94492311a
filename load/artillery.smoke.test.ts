/**
 * The Artillery profile on the real local topology (redis-server, two
 * replicas, HAProxy running haproxy/haproxy.cfg), a few seconds of load:
 * every virtual user must report itself sticky and receive messages, on
 * both replicas.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { liveManagedCount } from '../scenarios/lib/managed-process.ts';
import { LocalTopology } from '../scenarios/local/local-topology.ts';
import { runArtillery, stickinessVerdict } from './artillery-run.ts';

test('artillery through HAProxy: every virtual user keeps its replica', { timeout: 240_000 }, async () => {
  const topology = await LocalTopology.up({ kind: 'local', proxy: 'haproxy', replicas: 2, adapter: 'redis' });
  try {
    const target = topology.endpoints().proxyUrl;
    const run = await runArtillery({ target, durationS: 4, arrivalRate: 3, outDir: topology.logDirectory });
    const verdict = stickinessVerdict(run.counters);
    assert.ok(verdict.ok, `${verdict.problems.join('; ')} ${JSON.stringify(run.counters)}`);
    assert.ok(verdict.created >= 6, `only ${verdict.created} virtual users in 4 s at 3/s`);
    assert.equal(Object.keys(verdict.perReplica).length, 2, `users on ${JSON.stringify(verdict.perReplica)}: leastconn should use both replicas`);
    assert.equal(run.exitCode, 0);
    // No control run without the cookie jar here: those users fail before
    // their first ack, which the engine waits for with no timeout, so the run
    // hung until its kill limit (seen in CI: 3 of 6 users stuck, no report).
    // That the verdict fails on moved / failed users is artillery-run.test.ts'.
  } finally {
    await topology.down();
  }
  assert.equal(liveManagedCount(), 0, 'processes still running after down()');
});
