/**
 * The Artillery profile on the real local topology (redis-server, two
 * replicas, HAProxy running haproxy/haproxy.cfg), a few seconds of load:
 * every virtual user must report itself sticky and receive messages. The
 * control, the same profile without the cookie jar, must fail: otherwise the
 * stickiness counters could not have caught anything.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { liveManagedCount } from '../scenarios/lib/managed-process.ts';
import { LocalTopology } from '../scenarios/local/local-topology.ts';
import { runArtillery, stickinessVerdict } from './artillery-run.ts';

test('artillery through HAProxy: every virtual user keeps its replica; without the cookie jar they fail', { timeout: 240_000 }, async () => {
  const topology = await LocalTopology.up({ kind: 'local', proxy: 'haproxy', replicas: 2, adapter: 'redis' });
  try {
    const target = topology.endpoints().proxyUrl;
    const run = await runArtillery({ target, durationS: 4, arrivalRate: 3, outDir: topology.logDirectory });
    const verdict = stickinessVerdict(run.counters);
    assert.ok(verdict.ok, `${verdict.problems.join('; ')} ${JSON.stringify(run.counters)}`);
    assert.ok(verdict.created >= 6, `only ${verdict.created} virtual users in 4 s at 3/s`);
    assert.equal(Object.keys(verdict.perReplica).length, 2, `users on ${JSON.stringify(verdict.perReplica)}: leastconn should use both replicas`);
    assert.equal(run.exitCode, 0);

    const control = await runArtillery({ target, durationS: 2, arrivalRate: 3, outDir: topology.logDirectory, engineOptions: { withCredentials: false } });
    const blind = stickinessVerdict(control.counters);
    assert.equal(blind.ok, false, `without the cookie jar every user still looked sticky: ${JSON.stringify(control.counters)}`);
    assert.ok(blind.failed > 0, `no virtual user failed without the cookie jar: ${JSON.stringify(control.counters)}`);
  } finally {
    await topology.down();
  }
  assert.equal(liveManagedCount(), 0, 'processes still running after down()');
});
