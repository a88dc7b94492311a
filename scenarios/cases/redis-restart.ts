import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { acceptedBetween, type FlowProbe, startBroadcastFlow, tallyDeliveries } from '../lib/broadcast-flow.ts';
import { byReplica, closeClients, openClients, type PooledClient } from '../lib/client-pool.ts';
import { collectDeliveries, sendProbes } from '../lib/deliveries.ts';
import { proxyRoutesTo, readyzStatus } from '../lib/fault-watch.ts';
import { type HttpGet, httpGetOf } from '../lib/http-get.ts';
import { sumSamples } from '../lib/prometheus-text.ts';
import { scrapeMetrics } from '../lib/scrape-metrics.ts';
import { waitFor } from '../lib/wait-for.ts';
import { Checks, type Scenario, skipped } from '../scenario.ts';
import type { ReplicaEndpoint } from '../topology.ts';

/** How long Redis stays down: a deliberate fault duration, not a readiness wait. */
const OUTAGE_MS = 3000;
const READY_TIMEOUT_MS = 20_000;

async function everyReadyz(get: HttpGet, replicas: readonly ReplicaEndpoint[], status: number, what: string, timeoutMs: number) {
  const started = performance.now();
  await waitFor(
    async () => {
      const codes = await Promise.all(replicas.map((r) => readyzStatus(r.url, 1000, get)));
      const off = replicas.flatMap((r, i) => (codes[i] === status ? [] : [`${r.id}=${codes[i]}`]));
      if (off.length > 0) throw new Error(`not yet: ${off.join(', ')}`);
      return true;
    },
    { what, timeoutMs, intervalMs: 50 },
  );
  return Math.round(performance.now() - started);
}

/** From server/metrics.ts (METRIC_NAMES.adapterPublishErrors), as an operator's dashboard spells it. */
const PUBLISH_ERRORS = 'wsk_adapter_publish_errors_total';

/**
 * Cluster messages whose publish to Redis failed, summed over the replicas,
 * or undefined when a replica's /metrics cannot be read (Docker networks).
 */
async function publishErrors(get: HttpGet, replicas: readonly ReplicaEndpoint[]): Promise<number | undefined> {
  try {
    const scraped = await Promise.all(replicas.map((r) => scrapeMetrics(`${r.url}/metrics`, {}, get)));
    return scraped.reduce((sum, samples) => sum + sumSamples(samples, PUBLISH_ERRORS), 0);
  } catch {
    return undefined;
  }
}

/**
 * Lost deliveries of `probes`, split by whether sender and recipient share a
 * replica, and how many probes some recipient on another replica missed.
 */
export function splitLoss(probes: readonly FlowProbe[], recipients: readonly PooledClient[]) {
  let sameReplica = 0;
  let crossReplica = 0;
  let crossReplicaProbes = 0;
  for (const probe of probes) {
    const crossBefore = crossReplica;
    for (const client of recipients) {
      if (client.received.has(probe.key)) continue;
      if (client.replica === probe.sender.replica) sameReplica += 1;
      else crossReplica += 1;
    }
    if (crossReplica > crossBefore) crossReplicaProbes += 1;
  }
  return { sameReplica, crossReplica, crossReplicaProbes };
}

export const redisRestart: Scenario = {
  name: 'redis-restart',
  proves: `Redis down for ${OUTAGE_MS / 1000} s under broadcast traffic: replicas stay up and keep their clients, /readyz says 503 then 200, and afterwards cross-replica broadcast works again (subscriptions restored); reports what the outage lost`,
  async run({ topology, clients: count, log }) {
    if ((topology.options.redis ?? 'standalone') !== 'standalone') {
      return skipped('a full Redis outage is the standalone case; Sentinel and Cluster fail over (redis-failover, redis-cluster-failover)');
    }
    const { proxyUrl, replicas } = topology.endpoints();
    const clients = await openClients(proxyUrl, count);
    const check = new Checks();
    let redisStopped = false;
    try {
      // A polling request during the outage finds every replica not ready, so
      // HAProxy has no server for it: this scenario is about WebSocket clients.
      await waitFor(() => clients.every((c) => c.socket.io.engine?.transport?.name === 'websocket'), {
        what: 'every client to upgrade to WebSocket',
        timeoutMs: 10_000,
      });
      await everyReadyz(httpGetOf(topology), replicas, 200, 'every replica to be ready before the outage', READY_TIMEOUT_MS);
      const senders = [...byReplica(clients).values()].map((group) => group[0]!);
      const flow = startBroadcastFlow(() => senders, { intervalMs: 100 });
      await waitFor(() => flow.sent.some((p) => p.accepted), { what: 'the broadcast flow to start', timeoutMs: 5000 });

      const publishErrorsBefore = await publishErrors(httpGetOf(topology), replicas);
      log(`stopping Redis for ${OUTAGE_MS} ms with broadcasts flowing from ${senders.length} replicas`);
      const stoppedAt = performance.now();
      await topology.stopDependency('redis');
      redisStopped = true;
      const notReadyMs = await everyReadyz(httpGetOf(topology), replicas, 503, 'every replica /readyz to answer 503 without Redis', 10_000).catch(
        () => -1,
      );
      await sleep(Math.max(0, OUTAGE_MS - (performance.now() - stoppedAt)));
      await topology.startDependency('redis');
      redisStopped = false;
      const restartedAt = performance.now();
      const readyAgainMs = await everyReadyz(httpGetOf(topology), replicas, 200, 'every replica /readyz to answer 200 again', READY_TIMEOUT_MS).catch(
        () => -1,
      );
      const readyAt = performance.now();
      // The flow goes on a little after readiness: those broadcasts must all arrive.
      await waitFor(() => flow.sent.filter((p) => p.accepted && p.sentAt > readyAt).length >= 2 * senders.length, {
        what: 'broadcasts sent after Redis came back',
        timeoutMs: 5000,
      }).catch(() => undefined);
      const flowProbes = await flow.stop();

      // A fresh round from every replica to every client proves the subscriptions came back;
      // it is also the fence for counting the flow.
      const fresh = await collectDeliveries({ probes: await sendProbes(senders, 2), recipients: clients });
      const during = acceptedBetween(flowProbes, stoppedAt, readyAt);
      const before = acceptedBetween(flowProbes, 0, stoppedAt);
      const after = acceptedBetween(flowProbes, readyAt);
      const duringTally = tallyDeliveries(during, clients);
      const split = splitLoss(during, clients);
      const beforeTally = tallyDeliveries(before, clients);
      const afterTally = tallyDeliveries(after, clients);
      const refused = flowProbes.filter((p) => !p.accepted && p.sentAt >= stoppedAt).length;
      const publishErrorsAfter = await publishErrors(httpGetOf(topology), replicas);
      const cutPublishes =
        publishErrorsBefore === undefined || publishErrorsAfter === undefined ? undefined : publishErrorsAfter - publishErrorsBefore;
      // Every accepted probe of the run (refused ones were never broadcast), against the whole window of cut publishes.
      const lostProbes = splitLoss([...before, ...during, ...after], clients).crossReplicaProbes;
      // New clients need the proxy to route again (HAProxy rechecks /readyz).
      await proxyRoutesTo(
        topology,
        replicas.map((r) => r.address),
      );

      const moved = clients.filter((c) => c.welcomes > 1 || c.replica !== c.firstReplica).length;
      check.equal(clients.flatMap((c) => c.disconnects).length, 0, 'client disconnects during the Redis outage');
      check.equal(moved, 0, 'clients that reconnected or changed replica');
      check.expect(notReadyMs >= 0, 'not every replica answered /readyz 503 while Redis was down');
      check.expect(readyAgainMs >= 0, 'not every replica answered /readyz 200 after Redis came back');
      check.equal(fresh.lost, 0, 'lost deliveries after the restart (subscriptions not restored?)');
      check.equal(fresh.duplicated, 0, 'duplicated deliveries after the restart');
      check.equal(afterTally.lost, 0, 'broadcasts lost after /readyz said ready again');
      check.equal(beforeTally.lost, 0, 'broadcasts lost before the outage');
      check.equal(duringTally.duplicated + afterTally.duplicated + beforeTally.duplicated, 0, 'duplicated broadcasts');
      // A replica always delivers to its own clients, even when its publish fails.
      check.equal(split.sameReplica, 0, 'broadcasts lost between clients of the same replica');
      if (topology.options.adapter === 'redis-streams') {
        // The streams adapter's promise: whatever it queued while Redis was
        // down is XADDed on reconnection, and every reader goes on from its
        // offset. Redis persists (append-only file, as in Compose and Swarm),
        // so entries it had not yet handed to a reader when it died are read
        // after the restart. What can be lost is a publish Redis cut as it
        // died (sent, never executed): the replica counts each one. A loss
        // beyond those is a message dropped. (Without persistence, entries
        // added in Redis' last moments vanish with it: seen 1 run in 6.)
        if (cutPublishes === undefined) check.expect(false, "cannot read the replicas' /metrics to account for cut publishes");
        else check.equal(Math.max(0, lostProbes - cutPublishes), 0, 'streams broadcasts lost beyond the publishes Redis cut');
      }
      return {
        ok: check.ok,
        failures: check.failures,
        metrics: {
          adapter: topology.options.adapter,
          clients: clients.length,
          outageMs: Math.round(restartedAt - stoppedAt),
          notReadyMs,
          readyAgainMs,
          outageBroadcasts: during.length,
          outageExpected: duringTally.expected,
          outageLost: duringTally.lost,
          outageLostSameReplica: split.sameReplica,
          outageLostCrossReplica: split.crossReplica,
          refusedDuringOutage: refused,
          lostProbes,
          cutPublishes: cutPublishes ?? -1,
          afterLost: afterTally.lost + fresh.lost,
          disconnects: clients.flatMap((c) => c.disconnects).length,
        },
      };
    } finally {
      closeClients(clients);
      if (redisStopped) await topology.startDependency('redis');
    }
  },
};
