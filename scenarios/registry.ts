import { affinity } from './cases/affinity.ts';
import { affinityIp } from './cases/affinity-ip.ts';
import { broadcastScenario } from './cases/broadcast.ts';
import { drain } from './cases/drain.ts';
import { failover } from './cases/failover.ts';
import { fetchAfterKill } from './cases/fetch-after-kill.ts';
import { flood } from './cases/flood.ts';
import { hostileInput } from './cases/hostile-input.ts';
import { idleSurvival } from './cases/idle-survival.ts';
import { noCookieControl } from './cases/no-cookie-control.ts';
import { recovery } from './cases/recovery.ts';
import { redisClusterFailover, redisFailover, redisSwitchover } from './cases/redis-failover.ts';
import { redisRestart } from './cases/redis-restart.ts';
import { observe } from './cases/observe.ts';
import { partition } from './cases/partition.ts';
import { prometheusScenario } from './cases/prometheus.ts';
import { rollingUpdate } from './cases/rolling-update.ts';
import { rooms } from './cases/rooms.ts';
import { scale } from './cases/scale.ts';
import { securityDefaults } from './cases/security-defaults.ts';
import { tls } from './cases/tls.ts';
import type { Scenario } from './scenario.ts';

/** Every scenario, in the order a full run executes them. */
export const SCENARIOS: readonly Scenario[] = [
  affinity,
  affinityIp,
  broadcastScenario,
  observe,
  prometheusScenario,
  rooms,
  scale,
  hostileInput,
  flood,
  securityDefaults,
  tls,
  failover,
  drain,
  redisRestart,
  redisFailover,
  redisSwitchover,
  redisClusterFailover,
  partition,
  fetchAfterKill,
  recovery,
  noCookieControl,
  idleSurvival,
  rollingUpdate,
];

export function scenarioNames(): string[] {
  return SCENARIOS.map((scenario) => scenario.name);
}

/** Resolve `--only a,b` to scenarios in run order; unknown names are an error listing the known ones. */
export function selectScenarios(only: readonly string[] | undefined): Scenario[] {
  if (!only || only.length === 0) return [...SCENARIOS];
  const unknown = only.filter((name) => !SCENARIOS.some((scenario) => scenario.name === name));
  if (unknown.length > 0) {
    throw new Error(`unknown scenario(s): ${unknown.join(', ')}; known: ${scenarioNames().join(', ')}`);
  }
  return SCENARIOS.filter((scenario) => only.includes(scenario.name));
}
