import { performance } from 'node:perf_hooks';
import { driverFor } from '../drivers.ts';
import { acceptedBetween, startBroadcastFlow, tallyDeliveries } from '../lib/broadcast-flow.ts';
import { byReplica, closeClients, openClients, type PooledClient } from '../lib/client-pool.ts';
import { collectDeliveries, sendProbes } from '../lib/deliveries.ts';
import { WaitTimeoutError, waitFor } from '../lib/wait-for.ts';
import { Checks, type MetricValue, type Scenario, skipped } from '../scenario.ts';
import type { AdapterKind, RolloutChange, Topology } from '../topology.ts';
import { counterpartOf } from './recovery.ts';

/** After the rollout converged, clients still away get this long to come back. */
const SETTLE_TIMEOUT_MS = 30_000;
/** The counterpart stack measures the rollout with fewer clients: it is the control, not the load. */
const COUNTERPART_CLIENTS = 12;

export interface RolloutOutcome {
  adapter: AdapterKind;
  changes: RolloutChange[];
  replicas: number;
  /** Replicas the rollouts replaced, per change (each should replace all). */
  replaced: number[];
  durationMs: number;
  clients: number;
  /** Clients not connected to a current replica once the rollout is over. */
  stranded: number;
  reconnections: number;
  /** Most reconnections (new `welcome`s) in any one second. */
  peakReconnectsPerSec: number;
  /** Broadcasts the flow got accepted while the rollout ran. */
  broadcasts: number;
  expected: number;
  missed: number;
  duplicated: number;
  /** Clients whose reconnection restored their session (connection state recovery). */
  recovered: number;
}

/** Most events in any window of `windowMs` (times in ms, any order). Pure. */
export function peakRate(times: readonly number[], windowMs = 1000): number {
  const sorted = [...times].sort((a, b) => a - b);
  let peak = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while ((sorted[end] ?? 0) - (sorted[start] ?? 0) >= windowMs) start++;
    peak = Math.max(peak, end - start + 1);
  }
  return peak;
}

/** One connected client per replica: the flow keeps sending from whichever replicas exist now. */
function sendersOf(clients: readonly PooledClient[]): PooledClient[] {
  return [...byReplica(clients.filter((c) => c.socket.connected)).values()].map((group) => group[0]!);
}

export async function measureRollout(
  topology: Topology,
  count: number,
  changes: readonly RolloutChange[],
  log: (line: string) => void,
): Promise<RolloutOutcome> {
  const rollingUpdate = topology.rollingUpdate?.bind(topology);
  if (!rollingUpdate) throw new Error(`${topology.kind} topology has no rolling update`);
  const replicas = topology.endpoints().replicas.length;
  const clients = await openClients(topology.endpoints().proxyUrl, count);
  const welcomes: number[] = [];
  for (const client of clients) client.socket.on('welcome', () => welcomes.push(performance.now()));
  try {
    const flow = startBroadcastFlow(() => sendersOf(clients), { intervalMs: 100, maxRounds: 6000 });
    await waitFor(() => flow.sent.some((probe) => probe.accepted), { what: 'the broadcast flow to start', timeoutMs: 5000 });
    const replaced: number[] = [];
    let durationMs = 0;
    for (const change of changes) {
      log(`${topology.options.adapter}: rolling update (${change}) of ${replicas} replicas with ${count} clients connected`);
      const report = await rollingUpdate(change);
      replaced.push(report.replaced.length);
      durationMs += report.durationMs;
      log(`${topology.options.adapter}: ${change} rollout replaced ${report.replaced.length}/${replicas} in ${report.durationMs} ms`);
    }
    const current = new Set(topology.endpoints().replicas.map((replica) => replica.id));
    await waitFor(() => clients.every((c) => c.socket.connected && current.has(c.replica)), {
      what: 'every client to be connected to a replica of the new set',
      timeoutMs: SETTLE_TIMEOUT_MS,
      intervalMs: 200,
    }).catch((error: unknown) => {
      if (!(error instanceof WaitTimeoutError)) throw error;
    });
    const probes = await flow.stop();
    // Fence: a last round every connected client must get; what is missing after it is lost, not late.
    await collectDeliveries({ probes: await sendProbes(sendersOf(clients), 1), recipients: clients.filter((c) => c.socket.connected) });
    const accepted = acceptedBetween(probes, 0);
    const tally = tallyDeliveries(accepted, clients);
    return {
      adapter: topology.options.adapter,
      changes: [...changes],
      replicas,
      replaced,
      durationMs,
      clients: clients.length,
      stranded: clients.filter((c) => !c.socket.connected || !current.has(c.replica)).length,
      reconnections: welcomes.length,
      peakReconnectsPerSec: peakRate(welcomes),
      broadcasts: accepted.length,
      expected: tally.expected,
      missed: tally.lost,
      duplicated: tally.duplicated,
      recovered: clients.filter((c) => c.socket.recovered).length,
    };
  } finally {
    closeClients(clients);
  }
}

function metricsOf(outcome: RolloutOutcome, suffix: string): Record<string, MetricValue> {
  return {
    [`adapter${suffix}`]: outcome.adapter,
    [`rollouts${suffix}`]: outcome.changes.join('+'),
    [`replaced${suffix}`]: outcome.replaced.map((n) => `${n}/${outcome.replicas}`).join('+'),
    [`rolloutMs${suffix}`]: outcome.durationMs,
    [`clients${suffix}`]: outcome.clients,
    [`stranded${suffix}`]: outcome.stranded,
    [`reconnections${suffix}`]: outcome.reconnections,
    [`peakReconnectsPerSec${suffix}`]: outcome.peakReconnectsPerSec,
    [`broadcasts${suffix}`]: outcome.broadcasts,
    [`missed${suffix}`]: `${outcome.missed}/${outcome.expected}`,
    [`duplicated${suffix}`]: outcome.duplicated,
    [`recovered${suffix}`]: outcome.recovered,
  };
}

export const rollingUpdate: Scenario = {
  name: 'rolling-update',
  proves:
    "Swarm's rolling update (service update --force, then an image change) replaces every replica one at a time with clients connected and broadcasts flowing: no client stranded, broadcasts missed counted for pub/sub and for redis-streams (0 there: recovered sessions)",
  async run({ topology, clients: count, log }) {
    if (!topology.rollingUpdate) return skipped(`the ${topology.kind} topology has no rolling update (Swarm's docker service update has)`);
    if (topology.endpoints().replicas.length < 2) return skipped('needs at least 2 replicas');
    const main = await measureRollout(topology, count, ['force', 'image'], log);

    // The other adapter in its own stack, same fault (force only: the
    // image change exercises the orchestrator, not the adapter).
    const other = counterpartOf(topology.options.adapter);
    log(`bringing up a ${topology.kind} topology with adapter ${other} for the same rollout`);
    const counterpart = await (await driverFor(topology.kind)).up({
      ...topology.options,
      adapter: other,
      replicas: Math.min(3, topology.options.replicas),
    });
    let theirs: RolloutOutcome;
    try {
      theirs = await measureRollout(counterpart, Math.min(count, COUNTERPART_CLIENTS), ['force'], log);
    } finally {
      await counterpart.down();
    }

    const check = new Checks();
    for (const outcome of [main, theirs]) {
      for (const [index, n] of outcome.replaced.entries()) {
        check.equal(n, outcome.replicas, `${outcome.adapter}: replicas replaced by the ${outcome.changes[index]} rollout`);
      }
      check.equal(outcome.stranded, 0, `${outcome.adapter}: clients stranded after the rollout`);
      check.expect(outcome.broadcasts > 0, `${outcome.adapter}: no broadcast was accepted during the rollout`);
    }
    const streams = main.adapter === 'redis-streams' ? main : theirs;
    check.equal(streams.missed, 0, 'redis-streams: broadcasts missed across the rollout');
    return { ok: check.ok, failures: check.failures, metrics: { ...metricsOf(main, ''), ...metricsOf(theirs, 'Other') } };
  },
};
