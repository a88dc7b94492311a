import { getText } from '../../client/tls-trust.ts';
import { byReplica, closeClients, openClients, type PooledClient } from '../lib/client-pool.ts';
import { collectDeliveries, sendProbes } from '../lib/deliveries.ts';
import { type HttpGet, httpGetOf } from '../lib/http-get.ts';
import { type Sample, sumSamples } from '../lib/prometheus-text.ts';
import { SCRAPE_TIMEOUT_MS, scrapeMetrics as scrape } from '../lib/scrape-metrics.ts';
import { waitFor } from '../lib/wait-for.ts';
import { Checks, type MetricValue, type Scenario, skipped } from '../scenario.ts';
import type { Endpoints, ReplicaEndpoint, Topology } from '../topology.ts';

const PER_SENDER = 3;
/** Names from server/metrics.ts (METRIC_NAMES); spelled out here as an operator's dashboard would. */
const DELIVERIES = 'wsk_broadcast_deliveries_total';
const RECEIVED = 'wsk_events_received_total';
const CONNECTED = 'wsk_connected_clients';
const FANOUT_COUNT = 'wsk_broadcast_fanout_count';
const FANOUT_SUM = 'wsk_broadcast_fanout_sum';

type Snapshot = Map<string, Sample[]>;

async function snapshot(get: HttpGet, replicas: readonly ReplicaEndpoint[]): Promise<Snapshot> {
  const entries = await Promise.all(replicas.map(async (r) => [r.id, await scrape(`${r.url}/metrics`, {}, get)] as const));
  return new Map(entries);
}

/**
 * HAProxy's Prometheus exporter, found from the stats URL the topology
 * reports (same listener, same basic auth). Undefined, with the reason, where
 * there is none to read.
 */
function haproxyExporter(topology: Topology, endpoints: Endpoints): { url: string; headers: Record<string, string> } | string {
  if (topology.options.proxy !== 'haproxy') return `no HAProxy exporter behind ${topology.options.proxy}`;
  if (!endpoints.statsUrl) return `the ${topology.kind} topology does not expose HAProxy's stats listener to the runner`;
  const stats = new URL(endpoints.statsUrl);
  const auth = `${decodeURIComponent(stats.username)}:${decodeURIComponent(stats.password)}`;
  stats.username = '';
  stats.password = '';
  stats.pathname = '/metrics';
  return { url: stats.toString(), headers: { authorization: `Basic ${Buffer.from(auth).toString('base64')}` } };
}

/**
 * Why the runner cannot scrape the replicas, if it cannot. Compose replicas
 * sit on a bridge the host can usually reach (not from Docker Desktop's VM);
 * Swarm's overlay is read from inside a task (Topology.httpGet). Locally they
 * always can, so there a failed scrape is a failure, not a skip.
 */
async function replicasUnreachable(topology: Topology, replicas: readonly ReplicaEndpoint[]): Promise<string | undefined> {
  if (topology.kind === 'local') return undefined;
  const first = replicas[0];
  if (!first) return undefined;
  try {
    await scrape(`${first.url}/metrics`, {}, httpGetOf(topology));
    return undefined;
  } catch (error) {
    return `cannot scrape ${first.url}/metrics from the runner (${error instanceof Error ? error.message : String(error)})`;
  }
}

/** Every broadcast each client received, duplicates included: what the runner counted. */
export function receivedTotal(clients: readonly PooledClient[]): { deliveries: number; messages: number } {
  let deliveries = 0;
  const messages = new Set<string>();
  for (const client of clients) {
    for (const [key, count] of client.received) {
      deliveries += count;
      messages.add(key);
    }
  }
  return { deliveries, messages: messages.size };
}

export const observe: Scenario = {
  name: 'observe',
  proves:
    "after a broadcast run, every replica's /metrics delivery counters add up to exactly the deliveries the clients counted; HAProxy's exporter shows the proxy's sessions",
  async run({ topology, clients: count, log }) {
    const endpoints = topology.endpoints();
    const { proxyUrl, replicas } = endpoints;
    const unreachable = await replicasUnreachable(topology, replicas);
    if (unreachable) return skipped(unreachable);
    const clients = await openClients(proxyUrl, count);
    try {
      const check = new Checks();
      const groups = byReplica(clients);
      // Clients of earlier scenarios may still be closing: count from a
      // moment when the replicas hold exactly ours, so nobody else receives,
      // and all of ours have upgraded (one proxy session each from then on).
      await waitFor(
        async () => {
          const samples = [...(await snapshot(httpGetOf(topology), replicas)).values()].flat();
          const connected = sumSamples(samples, CONNECTED);
          const upgraded = sumSamples(samples, CONNECTED, { transport: 'websocket' });
          if (connected !== clients.length || upgraded !== connected) {
            throw new Error(`replicas report ${connected} clients, ${upgraded} on websocket`);
          }
          return true;
        },
        {
          what: `the replicas' ${CONNECTED} to add up to our ${clients.length} clients, all upgraded to websocket`,
          timeoutMs: 15_000,
          intervalMs: 200,
        },
      );
      const before = await snapshot(httpGetOf(topology), replicas);

      const senders = [...groups.values()].map((group) => group[0]!);
      const probes = await sendProbes(senders, PER_SENDER);
      const report = await collectDeliveries({ probes, recipients: clients });
      const counted = receivedTotal(clients);

      const after = await snapshot(httpGetOf(topology), replicas);
      const delta = (replica: string, name: string, where: Record<string, string> = {}) =>
        sumSamples(after.get(replica) ?? [], name, where) - sumSamples(before.get(replica) ?? [], name, where);
      const total = (name: string, where: Record<string, string> = {}) =>
        replicas.reduce((sum, r) => sum + delta(r.id, name, where), 0);

      const delivered = total(DELIVERIES, { event: 'broadcast' });
      const perReplica: string[] = [];
      for (const replica of replicas) {
        const own = groups.get(replica.id)?.length ?? 0;
        const got = delta(replica.id, DELIVERIES, { event: 'broadcast' });
        perReplica.push(`${replica.id}=${got}`);
        check.equal(got, own * counted.messages, `${replica.id}: deliveries counted by its /metrics (its ${own} clients × ${counted.messages} messages)`);
        check.equal(
          sumSamples(before.get(replica.id) ?? [], CONNECTED),
          own,
          `${replica.id}: ${CONNECTED} against the clients the runner placed there`,
        );
      }
      check.equal(report.lost, 0, 'lost deliveries');
      check.equal(report.duplicated, 0, 'duplicated deliveries');
      check.equal(delivered, counted.deliveries, "the replicas' delivery counters against the deliveries the clients counted");
      check.equal(total(RECEIVED, { event: 'broadcast' }), counted.messages, 'broadcast events received by the replicas');
      check.equal(total(FANOUT_SUM, { event: 'broadcast' }), delivered, 'fan-out histogram sum against deliveries');
      check.equal(
        total(FANOUT_COUNT, { event: 'broadcast' }),
        counted.messages * groups.size,
        'fan-out observations (one per message per replica holding clients)',
      );

      const metrics: Record<string, MetricValue> = {
        clients: clients.length,
        replicas: groups.size,
        messages: counted.messages,
        runnerCounted: counted.deliveries,
        replicasCounted: delivered,
        perReplica: perReplica.join(' '),
      };

      // Scrapers read each replica on the internal network; through the proxy
      // a scrape would hit a random replica and leak metrics to clients.
      // getText, not fetch: under --tls it trusts the run's CA (Node 20's fetch cannot be given one without undici).
      const throughProxy = await getText(`${proxyUrl}/metrics`, { timeoutMs: SCRAPE_TIMEOUT_MS });
      check.equal(throughProxy.status, 404, `GET ${proxyUrl}/metrics through the proxy (status)`);

      const exporter = haproxyExporter(topology, endpoints);
      if (typeof exporter === 'string') {
        metrics.haproxy = `skipped: ${exporter}`;
        log(`HAProxy exporter skipped: ${exporter}`);
      } else {
        const samples = await scrape(exporter.url, exporter.headers, httpGetOf(topology));
        const backend = sumSamples(samples, 'haproxy_backend_current_sessions', { proxy: 'replicas' });
        const servers = samples
          .filter((s) => s.name === 'haproxy_server_current_sessions' && s.labels.proxy === 'replicas' && s.value > 0)
          .map((s) => `${s.labels.server}=${s.value}`);
        metrics.proxyBackendSessions = backend;
        metrics.proxyServerSessions = servers.join(' ');
        // Each of our clients holds its WebSocket through the proxy, spread
        // over as many servers as there are replicas.
        check.expect(backend >= clients.length, `HAProxy backend sessions (${backend}) below our ${clients.length} clients`);
        check.equal(servers.length, groups.size, 'HAProxy servers holding sessions');
      }
      return { ok: check.ok, failures: check.failures, metrics };
    } finally {
      closeClients(clients);
    }
  },
};
