import { performance } from 'node:perf_hooks';
import type { Scenario, ScenarioResult } from './scenario.ts';
import type { Topology } from './topology.ts';

export interface RunOptions {
  clients: number;
  log?: (message: string) => void;
  /** Called after each scenario, e.g. to print progress. */
  onResult?: (result: ScenarioResult) => void;
  signal?: AbortSignal;
}

/**
 * Run scenarios one after another on one topology. A scenario that throws
 * is a failed result carrying the error, and the run goes on: one broken
 * scenario must not hide the verdicts of the others.
 */
export async function runScenarios(
  topology: Topology,
  scenarios: readonly Scenario[],
  { clients, log = () => undefined, onResult, signal }: RunOptions,
): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = [];
  for (const scenario of scenarios) {
    signal?.throwIfAborted();
    log(`▶ ${scenario.name}`);
    const started = performance.now();
    let result: ScenarioResult;
    try {
      const outcome = await scenario.run({ topology, clients, log: (m) => log(`  ${scenario.name}: ${m}`) });
      result = { name: scenario.name, durationMs: Math.round(performance.now() - started), ...outcome };
    } catch (error) {
      result = {
        name: scenario.name,
        ok: false,
        metrics: {},
        failures: [`threw: ${error instanceof Error ? error.message : String(error)}`],
        durationMs: Math.round(performance.now() - started),
      };
    }
    results.push(result);
    onResult?.(result);
  }
  return results;
}
