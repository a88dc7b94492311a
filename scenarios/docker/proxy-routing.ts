import { openClient, type OpenClient } from '../../client/connect.ts';
import { waitFor } from '../lib/wait-for.ts';
import type { ProxyKind } from '../topology.ts';

export interface RoutingWaitOptions {
  proxy: ProxyKind;
  timeoutMs: number;
}

/**
 * Resolves once the proxy at `proxyUrl` routes to exactly `expectedIds`.
 * Injectable so driver tests (with a fake `docker`, no proxy) can record it.
 */
export type RoutingProbe = (proxyUrl: string, expectedIds: readonly string[], options: RoutingWaitOptions) => Promise<void>;

/** Which replicas answer `count` fresh clients (each with an empty cookie jar). */
export async function sampleReplicas(proxyUrl: string, count: number): Promise<Set<string>> {
  const open: OpenClient[] = [];
  try {
    // Held open until the end: HAProxy balances with leastconn, so clients
    // that stay connected push the next ones onto the other replicas.
    for (let index = 0; index < count; index += 1) {
      open.push(await openClient(proxyUrl, { reconnection: false }, 5_000));
    }
    return new Set(open.map((client) => client.welcome.replica));
  } finally {
    for (const client of open) client.socket.disconnect();
  }
}

/**
 * The real probe: connect through the proxy like a client and read the
 * `welcome` replica id. Docker hides the proxies' own state (stats are not
 * published), so this asks the only question that matters from outside.
 *
 * HAProxy: every expected replica must answer and no other. Nginx ip_hash
 * sends every client from this one source address to one replica, so there
 * the check can only be "answers, and only from expected replicas".
 */
export const waitForProxyRouting: RoutingProbe = async (proxyUrl, expectedIds, { proxy, timeoutMs }) => {
  if (expectedIds.length === 0) return;
  const expected = new Set(expectedIds);
  const samples = Math.max(4, expectedIds.length * 3);
  await waitFor(
    async () => {
      const seen = await sampleReplicas(proxyUrl, samples);
      const unexpected = [...seen].filter((id) => !expected.has(id));
      if (unexpected.length > 0) throw new Error(`routed to unexpected replicas ${unexpected.join(', ')}`);
      if (proxy === 'nginx') return seen.size > 0;
      const missing = expectedIds.filter((id) => !seen.has(id));
      if (missing.length > 0) throw new Error(`no client reached ${missing.join(', ')} yet`);
      return true;
    },
    {
      what: `${proxy} at ${proxyUrl} to route to exactly the replicas ${expectedIds.join(', ')}`,
      timeoutMs,
      intervalMs: 500,
    },
  );
};
