import { performance } from 'node:perf_hooks';
import { startBroadcastFlow } from '../lib/broadcast-flow.ts';
import { byReplica, closeClients, openClients, type PooledClient } from '../lib/client-pool.ts';
import { collectDeliveries, sendProbes } from '../lib/deliveries.ts';
import { proxyMarkDownMs, proxyRoutesTo, readyzStatus } from '../lib/fault-watch.ts';
import { sumSamples } from '../lib/prometheus-text.ts';
import { deliveryGap } from '../lib/redis-fault.ts';
import { scrapeMetrics } from '../lib/scrape-metrics.ts';
import { waitFor } from '../lib/wait-for.ts';
import { canPartition } from '../local/redis-partition.ts';
import { BLOCKING_READ_BOUND_MS } from '../../server/redis-connections.ts';
import { Checks, type Scenario, skipped } from '../scenario.ts';

/**
 * The replica's defaults (server/config.ts): PING every 1 s, unresponsive
 * after 2 s unanswered, clients closed after 10 s without Redis. A cut
 * replica is noticed within interval + timeout + one more interval (the
 * watchdog looks once per interval), plus 1 s for timer jitter on a loaded
 * machine; its clients hear again once they have reconnected elsewhere:
 * drain bound + a reconnection.
 */
export const DETECT_BOUND_MS = 1000 + 2000 + 1000 + 1000;
export const LOST_DRAIN_MS = 10_000;
/** socket.io-client reconnects after 1–5 s (randomized backoff), then the handshake. */
export const DEAF_BOUND_MS = DETECT_BOUND_MS + LOST_DRAIN_MS + 6000;
/** From server/metrics.ts (METRIC_NAMES.redisConnectionUp). */
const CONNECTION_UP = 'wsk_redis_connection_up';

async function connectionUpSum(url: string): Promise<number> {
  return sumSamples(await scrapeMetrics(`${url}/metrics`), CONNECTION_UP);
}

/**
 * Per client of the cut replica: ms from the cut to the send time of the
 * last broadcast it missed (how long it was deaf, to the flow's resolution).
 */
export function deafMs(
  probes: readonly { key: string; sentAt: number; accepted: boolean }[],
  client: Pick<PooledClient, 'received'>,
  since: number,
): number {
  let last = 0;
  for (const probe of probes) {
    if (probe.accepted && probe.sentAt >= since && !client.received.has(probe.key)) last = Math.max(last, probe.sentAt - since);
  }
  return Math.round(last);
}

export const partition: Scenario = {
  name: 'partition',
  proves: `one replica cut off from Redis (iptables DROP on its Redis connections) while the others keep it: it notices within ${DETECT_BOUND_MS / 1000} s (/readyz 503, ${CONNECTION_UP} 0), the proxy stops sending it new clients, and after REDIS_LOST_DRAIN_MS (10 s) its clients reconnect to healthy replicas: none is deaf for more than ${DEAF_BOUND_MS / 1000} s; others lose nothing; healed, it is ready again`,
  async run({ topology, clients: count, log }) {
    if (!topology.partitionFromRedis) return skipped('the driver cannot cut one replica off Redis (local topology only)');
    if (!(await canPartition())) return skipped('needs root and iptables to drop one replica\'s Redis packets');
    const { proxyUrl, replicas } = topology.endpoints();
    if (replicas.length < 2) return skipped('needs at least 2 replicas');
    const clients = await openClients(proxyUrl, count);
    const check = new Checks();
    let heal: (() => Promise<void>) | undefined;
    try {
      await waitFor(() => clients.every((c) => c.socket.io.engine?.transport?.name === 'websocket'), {
        what: 'every client to upgrade to WebSocket',
        timeoutMs: 10_000,
      });
      const groups = byReplica(clients);
      // The replica with the most clients: the largest group to strand.
      const victimId = [...groups.entries()].sort((a, b) => b[1].length - a[1].length || a[0].localeCompare(b[0]))[0]![0];
      const victim = replicas.find((r) => r.id === victimId)!;
      const stranded = [...(groups.get(victimId) ?? [])];
      const others = clients.filter((c) => c.replica !== victimId);
      // Broadcasts from the healthy replicas: what the cut replica's clients stop hearing.
      const senders = [...groups.entries()].filter(([id]) => id !== victimId).map(([, group]) => group[0]!);
      const flow = startBroadcastFlow(() => senders.filter((s) => s.socket.connected), { intervalMs: 100, maxRounds: 800 });
      await waitFor(() => flow.sent.some((p) => p.accepted), { what: 'the broadcast flow to start', timeoutMs: 5000 });

      const cutAt = performance.now();
      heal = await topology.partitionFromRedis(victimId);
      log(`cut ${victimId} (${stranded.length} clients) off Redis`);
      const detectedMs = await waitFor(async () => (await readyzStatus(victim.url)) === 503, {
        what: `${victimId} /readyz to answer 503 after the cut`,
        timeoutMs: 15_000,
        intervalMs: 50,
      }).then(
        () => Math.round(performance.now() - cutAt),
        () => -1,
      );
      const markDownMs = await proxyMarkDownMs(topology, victim.address, cutAt, 15_000).catch(() => -1);
      // Connections are PINGed independently: the last one may be flagged a tick after the first.
      const metricZeroMs = await waitFor(async () => (await connectionUpSum(victim.url)) === 0, {
        what: `${CONNECTION_UP} to be 0 for every connection of ${victimId}`,
        timeoutMs: 15_000,
        intervalMs: 100,
      }).then(
        () => Math.round(performance.now() - cutAt),
        () => -1,
      );
      // A new client now must land on a replica that has Redis.
      const [newcomer] = await openClients(proxyUrl, 1);
      const newcomerReplica = newcomer?.replica ?? '';
      if (newcomer) closeClients([newcomer]);

      const movedMs = await waitFor(() => stranded.every((c) => c.replica !== victimId && c.socket.connected), {
        what: `every client of ${victimId} to reconnect to another replica`,
        timeoutMs: DEAF_BOUND_MS + 10_000,
        intervalMs: 50,
      }).then(
        () => Math.round(performance.now() - cutAt),
        () => -1,
      );
      const movedAt = performance.now();
      await waitFor(() => flow.sent.filter((p) => p.accepted && p.sentAt > movedAt).length >= 3 * senders.length, {
        what: 'broadcasts sent after the clients moved',
        timeoutMs: 10_000,
      }).catch(() => undefined);
      const flowProbes = await flow.stop();
      const deaf = stranded.map((c) => deafMs(flowProbes, c, cutAt)).sort((a, b) => a - b);
      const othersGap = deliveryGap(flowProbes, others, cutAt);
      const strandedGap = deliveryGap(flowProbes, stranded, cutAt);

      await heal();
      heal = undefined;
      const healedAt = performance.now();
      const readyAgainMs = await waitFor(async () => (await readyzStatus(victim.url)) === 200, {
        what: `${victimId} /readyz to answer 200 after healing`,
        timeoutMs: 20_000,
        intervalMs: 50,
      }).then(
        () => Math.round(performance.now() - healedAt),
        () => -1,
      );
      await proxyRoutesTo(topology, replicas.map((r) => r.address)).catch(() => undefined);
      // Everyone (all on healthy replicas now) hears every replica again, the healed one included
      // through a client opened on it if the proxy sends one there.
      const fresh = await collectDeliveries({ probes: await sendProbes(senders, 2), recipients: clients });

      check.expect(detectedMs >= 0 && detectedMs <= DETECT_BOUND_MS, `cut noticed (/readyz 503) after ${detectedMs} ms (bound ${DETECT_BOUND_MS})`);
      // The streams adapter's reader sits in XREAD BLOCK: it is judged by that read overrunning its block time.
      const metricBound = DETECT_BOUND_MS + (topology.options.adapter === 'redis-streams' ? BLOCKING_READ_BOUND_MS : 0);
      check.expect(
        metricZeroMs >= 0 && metricZeroMs <= metricBound,
        `${CONNECTION_UP} 0 on every connection of ${victimId} after ${metricZeroMs} ms (bound ${metricBound})`,
      );
      check.expect(newcomerReplica !== victimId, `a client opened during the cut landed on the cut replica ${victimId}`);
      check.expect(movedMs >= 0, `not every client of ${victimId} reconnected elsewhere within ${DEAF_BOUND_MS + 10_000} ms`);
      check.expect((deaf.at(-1) ?? 0) <= DEAF_BOUND_MS, `a client of the cut replica was deaf for ${deaf.at(-1)} ms (bound ${DEAF_BOUND_MS})`);
      check.equal(othersGap.lostDeliveries, 0, 'broadcasts lost by clients of the healthy replicas');
      check.expect(readyAgainMs >= 0, `${victimId} /readyz not 200 within 20 s of healing`);
      check.equal(fresh.lost, 0, 'lost deliveries after healing');
      check.equal(fresh.duplicated, 0, 'duplicated deliveries after healing');
      return {
        ok: check.ok,
        failures: check.failures,
        metrics: {
          adapter: topology.options.adapter,
          cut: victimId,
          strandedClients: stranded.length,
          detectedMs,
          proxyMarkDownMs: markDownMs ?? -1,
          metricZeroMs,
          newClientOn: newcomerReplica,
          movedMs,
          deafMsMax: deaf.at(-1) ?? 0,
          deafMsMedian: deaf[Math.floor(deaf.length / 2)] ?? 0,
          strandedLostDeliveries: strandedGap.lostDeliveries,
          othersLost: othersGap.lostDeliveries,
          readyAgainMs,
          afterLost: fresh.lost,
        },
      };
    } finally {
      if (heal) await heal();
      closeClients(clients);
    }
  },
};
