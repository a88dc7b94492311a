import { sampleReplicas } from '../docker/proxy-routing.ts';
import { waitFor } from '../lib/wait-for.ts';

/**
 * Waiting until a proxy routes to exactly the replicas a driver expects,
 * said in terms of the proxy's affinity rather than its brand, so every
 * driver (compose, swarm, k8s) can share it:
 *
 * - `cookie` (HAProxy insert cookies, ingress-nginx affinity: cookie): fresh
 *   clients have empty jars and are balanced, so every expected replica
 *   must answer one of them, and no other replica may;
 * - `source-ip` (Nginx ip_hash, Service sessionAffinity: ClientIP): every
 *   client from this runner's one address lands on one replica, so the check
 *   can only be "answers, and only from expected replicas".
 */
export type AffinityKind = 'cookie' | 'source-ip';

/** Which replica ids answer `count` fresh clients through the proxy. Injectable for tests. */
export type ReplicaSampler = (proxyUrl: string, count: number) => Promise<ReadonlySet<string>>;

export interface RoutingWait {
  affinity: AffinityKind;
  timeoutMs: number;
  intervalMs?: number;
  /** Default: connect real Socket.IO clients (docker/proxy-routing.ts). */
  sample?: ReplicaSampler;
}

/** One sample's verdict: undefined when it satisfies the wait, else why not (pure). */
export function routingShortfall(seen: ReadonlySet<string>, expectedIds: readonly string[], affinity: AffinityKind): string | undefined {
  const expected = new Set(expectedIds);
  const unexpected = [...seen].filter((id) => !expected.has(id));
  if (unexpected.length > 0) return `routed to unexpected replicas ${unexpected.join(', ')}`;
  if (affinity === 'source-ip') return seen.size > 0 ? undefined : 'no client got through';
  const missing = expectedIds.filter((id) => !seen.has(id));
  return missing.length > 0 ? `no client reached ${missing.join(', ')} yet` : undefined;
}

/** Resolves once a sample satisfies routingShortfall; times out naming the proxy, the replicas and the last shortfall. */
export async function waitForRouting(proxyUrl: string, expectedIds: readonly string[], options: RoutingWait): Promise<void> {
  if (expectedIds.length === 0) return;
  const sample = options.sample ?? sampleReplicas;
  // Three clients per replica: with leastconn / round robin each replica gets some.
  const count = Math.max(4, expectedIds.length * 3);
  await waitFor(
    async () => {
      const shortfall = routingShortfall(await sample(proxyUrl, count), expectedIds, options.affinity);
      if (shortfall !== undefined) throw new Error(shortfall);
      return true;
    },
    {
      what: `the proxy at ${proxyUrl} (${options.affinity} affinity) to route to exactly the replicas ${expectedIds.join(', ')}`,
      timeoutMs: options.timeoutMs,
      intervalMs: options.intervalMs ?? 500,
    },
  );
}
