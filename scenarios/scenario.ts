import type { Topology } from './topology.ts';

export type MetricValue = number | string | boolean;

/** What every scenario returns: a verdict, the counts behind it, and why it failed. */
export interface ScenarioResult {
  name: string;
  ok: boolean;
  metrics: Record<string, MetricValue>;
  /** Human-readable reasons, empty when ok. */
  failures: string[];
  durationMs: number;
  /** Set when the scenario does not apply to this topology (counts as passed, shown as skipped). */
  skipped?: string;
}

export interface ScenarioContext {
  topology: Topology;
  /** How many clients the scenario should use in total. */
  clients: number;
  log: (message: string) => void;
}

export interface Scenario {
  name: string;
  /** One line for --help and the README. */
  proves: string;
  run(context: ScenarioContext): Promise<Omit<ScenarioResult, 'name' | 'durationMs'>>;
}

/** Collects failed expectations; a scenario's verdict is "no failures". */
export class Checks {
  readonly failures: string[] = [];

  /** Record `message` when `condition` is false; returns the condition. */
  expect(condition: boolean, message: string): boolean {
    if (!condition) this.failures.push(message);
    return condition;
  }

  equal(actual: MetricValue, expected: MetricValue, what: string): boolean {
    return this.expect(actual === expected, `${what}: expected ${expected}, got ${actual}`);
  }

  get ok(): boolean {
    return this.failures.length === 0;
  }
}

/** The result of a scenario that does not apply to this topology. */
export function skipped(reason: string): Omit<ScenarioResult, 'name' | 'durationMs'> {
  return { ok: true, failures: [], metrics: {}, skipped: reason };
}

/**
 * Why a scenario that must place clients on several replicas cannot, or
 * undefined when it can: Nginx's ip_hash spreads clients by source address
 * only, and some topologies hide those addresses from it.
 */
export function spreadUnavailable(topology: Topology): string | undefined {
  const hidden = topology.endpoints().clientAddressesHidden;
  if (topology.options.proxy !== 'nginx' || !hidden) return undefined;
  return `ip_hash cannot spread clients here: ${hidden}`;
}
