/**
 * REDIS_MODE=sentinel and REDIS_MODE=cluster on the local topology (3
 * replicas behind HAProxy): broadcasts and rooms cross replicas, the master's
 * kill -9 is survived with bounded gaps, cluster:replicas answers, and a
 * replica cut off Redis is detected and drained. The full scenario list runs
 * with `npm run scenarios -- --redis sentinel|cluster`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { broadcastScenario } from '../scenarios/cases/broadcast.ts';
import { fetchAfterKill } from '../scenarios/cases/fetch-after-kill.ts';
import { partition } from '../scenarios/cases/partition.ts';
import { FAILOVER_BOUND_MS, redisClusterFailover, redisFailover, redisSwitchover } from '../scenarios/cases/redis-failover.ts';
import { rooms } from '../scenarios/cases/rooms.ts';
import { liveManagedCount } from '../scenarios/lib/managed-process.ts';
import { LocalTopology } from '../scenarios/local/local-topology.ts';
import { runScenarios } from '../scenarios/run-scenarios.ts';
import type { Scenario, ScenarioResult } from '../scenarios/scenario.ts';
import type { AdapterKind, RedisMode } from '../scenarios/topology.ts';

const describe = (r: ScenarioResult) => `${r.name}: ${r.failures.join('; ')} ${JSON.stringify(r.metrics)}`;

const CASES: ReadonlyArray<{ redis: RedisMode; adapter: AdapterKind; scenarios: readonly Scenario[] }> = [
  { redis: 'sentinel', adapter: 'redis', scenarios: [broadcastScenario, rooms, fetchAfterKill, redisFailover, redisSwitchover, partition] },
  { redis: 'sentinel', adapter: 'redis-streams', scenarios: [broadcastScenario, redisFailover] },
  { redis: 'cluster', adapter: 'redis-sharded', scenarios: [broadcastScenario, rooms, fetchAfterKill, redisClusterFailover] },
  { redis: 'cluster', adapter: 'redis-streams', scenarios: [broadcastScenario, redisClusterFailover] },
];

for (const { redis, adapter, scenarios } of CASES) {
  test(`REDIS_MODE=${redis} ADAPTER=${adapter}: ${scenarios.map((s) => s.name).join(', ')}`, { timeout: 240_000 }, async () => {
    const topology = await LocalTopology.up({ kind: 'local', proxy: 'haproxy', replicas: 3, adapter, redis });
    try {
      const results = await runScenarios(topology, scenarios, { clients: 30 });
      for (const result of results) {
        assert.ok(result.ok, describe(result));
        // partition skips without root; nothing else may.
        if (result.name !== 'partition') assert.equal(result.skipped, undefined, `${result.name} was skipped: ${result.skipped}`);
      }
      for (const result of results.filter((r) => r.name.includes('failover'))) {
        assert.ok(Number(result.metrics.readyAgainMs) <= FAILOVER_BOUND_MS, describe(result));
        if (adapter === 'redis-streams') {
          assert.ok(Number(result.metrics.lostProbes) <= Math.max(0, Number(result.metrics.cutPublishes)), describe(result));
        }
      }
    } finally {
      await topology.down();
    }
    assert.equal(liveManagedCount(), 0, 'processes still running after down()');
  });
}
