import { performance } from 'node:perf_hooks';
import { clusterReplicas } from '../../client/api.ts';
import type { ReplicaEndpoint } from '../topology.ts';
import type { FlowProbe } from './broadcast-flow.ts';
import type { PooledClient } from './client-pool.ts';
import { readyzStatus } from './fault-watch.ts';
import { directGet, type HttpGet } from './http-get.ts';
import { sumSamples } from './prometheus-text.ts';
import { scrapeMetrics } from './scrape-metrics.ts';
import { waitFor } from './wait-for.ts';

/**
 * Wait until every replica's /readyz answers `status`; resolves with the ms
 * it took. `get`: the topology's way in (httpGetOf), where the runner has no
 * route to the replicas (Swarm's overlay network).
 */
export async function everyReadyzIs(
  replicas: readonly ReplicaEndpoint[],
  status: number,
  what: string,
  timeoutMs: number,
  get: HttpGet = directGet,
): Promise<number> {
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

/**
 * Watch every replica's /readyz (every 50 ms, plus however long one round of
 * `get` takes) until stopped: which ones were seen answering something other
 * than 200, and for how long in total.
 */
export function watchReadyz(replicas: readonly ReplicaEndpoint[], maxPolls = 2000, get: HttpGet = directGet) {
  const notReadyMs = new Map<string, number>();
  let stopped = false;
  const loop = (async () => {
    let last = performance.now();
    for (let poll = 0; poll < maxPolls && !stopped; poll++) {
      const codes = await Promise.all(replicas.map((r) => readyzStatus(r.url, 500, get)));
      const now = performance.now();
      replicas.forEach((r, i) => {
        if (codes[i] !== 200) notReadyMs.set(r.id, (notReadyMs.get(r.id) ?? 0) + (now - last));
      });
      last = now;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  return {
    /** Replicas seen not ready so far. */
    seen(): ReadonlySet<string> {
      return new Set(notReadyMs.keys());
    },
    async stop(): Promise<Map<string, number>> {
      stopped = true;
      await loop;
      return new Map([...notReadyMs].map(([id, ms]) => [id, Math.round(ms)]));
    },
  };
}

export interface ClusterReplicasAnswer {
  ms: number;
  answered: boolean;
  complete: boolean;
  replicas: string[];
  error?: string;
}

/** Ask `cluster:replicas` through `client` and time the answer (never rejects). */
export async function askClusterReplicas(client: PooledClient, timeoutMs: number): Promise<ClusterReplicasAnswer> {
  const started = performance.now();
  try {
    const reply = await clusterReplicas(client.socket, timeoutMs);
    return {
      ms: Math.round(performance.now() - started),
      answered: true,
      complete: reply.complete,
      replicas: reply.replicas.map((r) => r.replica).sort(),
    };
  } catch (error) {
    return {
      ms: Math.round(performance.now() - started),
      answered: false,
      complete: false,
      replicas: [],
      error: error instanceof Error ? error.message : String(error),
    };
  }
}

/**
 * Poll `cluster:replicas` until it answers complete with exactly `expected`;
 * resolves with the ms from `since`, or -1 when `timeoutMs` passes first.
 */
export async function clusterReplicasAgainMs(
  client: PooledClient,
  expected: readonly string[],
  since: number,
  timeoutMs: number,
): Promise<number> {
  const wanted = [...expected].sort().join(',');
  try {
    await waitFor(
      async () => {
        const answer = await askClusterReplicas(client, 7000);
        if (!answer.complete || answer.replicas.join(',') !== wanted) {
          throw new Error(`answered=${answer.answered} complete=${answer.complete} replicas=[${answer.replicas}] ${answer.error ?? ''}`);
        }
        return true;
      },
      { what: `cluster:replicas to answer complete [${wanted}]`, timeoutMs, intervalMs: 200 },
    );
    return Math.round(performance.now() - since);
  } catch {
    return -1;
  }
}

export interface DeliveryGap {
  /** Accepted probes sent at or after `since` that some recipient missed. */
  lostProbes: number;
  /** Missed deliveries (probe × recipient) among those. */
  lostDeliveries: number;
  /** ms from `since` to the send time of the last probe someone missed; 0 when none. */
  lastLossMs: number;
}

/** What a fault at `since` cost `recipients`, counted over the accepted probes of a flow. */
export function deliveryGap(probes: readonly FlowProbe[], recipients: readonly PooledClient[], since: number): DeliveryGap {
  let lostProbes = 0;
  let lostDeliveries = 0;
  let lastLossMs = 0;
  for (const probe of probes) {
    if (!probe.accepted || probe.sentAt < since) continue;
    const missed = recipients.filter((client) => !client.received.has(probe.key)).length;
    if (missed === 0) continue;
    lostProbes += 1;
    lostDeliveries += missed;
    lastLossMs = Math.max(lastLossMs, Math.round(probe.sentAt - since));
  }
  return { lostProbes, lostDeliveries, lastLossMs };
}

/** Sum of a counter over the replicas' /metrics, or undefined when one cannot be read. */
export async function sumOverReplicas(replicas: readonly ReplicaEndpoint[], metric: string, get: HttpGet = directGet): Promise<number | undefined> {
  try {
    const scraped = await Promise.all(replicas.map((r) => scrapeMetrics(`${r.url}/metrics`, {}, get)));
    return scraped.reduce((sum, samples) => sum + sumSamples(samples, metric), 0);
  } catch {
    return undefined;
  }
}
