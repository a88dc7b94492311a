import { openClient, type OpenClient } from '../../client/connect.ts';
import { waitFor } from '../lib/wait-for.ts';
import type { ProxyKind, ProxyServerState } from '../topology.ts';

export interface RoutingWaitOptions {
  proxy: ProxyKind;
  timeoutMs: number;
  /** Addresses of the expected replicas (what Docker's DNS answers), in the order of `expectedIds`. */
  expectedAddresses?: readonly string[];
  /** The proxy's own view of its servers (HAProxy stats), when the driver can read it. */
  proxyStates?: () => Promise<ProxyServerState[] | undefined>;
  /**
   * Trust the proxy's states alone, without a client through it: for a
   * negative-control proxy that breaks affinity on purpose (a polling
   * client would fail its handshake there by design).
   */
  statesOnly?: boolean;
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
 * Throws (naming what it saw) unless exactly `expected` are UP with a passed
 * health check; for waitFor's last error. Docker's DNS lists a container as
 * soon as it starts, before it is ready, and HAProxy < 3.1 starts a slot
 * that just got its address UP before any check: "UP" alone would let the
 * wait end while a new replica is about to fail its first /readyz.
 */
export function assertUpExactly(states: readonly ProxyServerState[], expected: readonly string[]): true {
  const up = states
    .filter((state) => state.up && state.checked !== false)
    .map((state) => state.address)
    .sort();
  const wanted = [...expected].sort();
  if (up.join(',') !== wanted.join(',')) throw new Error(`HAProxy has UP: [${up.join(', ')}], wants [${wanted.join(', ')}]`);
  return true;
}

/**
 * The real probe.
 *
 * HAProxy with readable stats: its `replicas` slots must be UP for exactly
 * the expected addresses (new ones found through DNS and checked, removed
 * ones gone), then one client through the proxy must reach an expected
 * replica. Sampling replicas with fresh clients cannot prove this: leastconn
 * sends every new client to the emptiest replica, so after a restart or a
 * scale-up (the others still holding a scenario's clients) all samples land
 * on the new ones and the old ones look unreachable.
 *
 * Otherwise (Nginx; HAProxy without stats): connect like a client. Nginx
 * ip_hash sends every client from this one source address to one replica, so
 * there the check is "answers, and only from expected replicas".
 */
export const waitForProxyRouting: RoutingProbe = async (proxyUrl, expectedIds, options) => {
  const { proxy, timeoutMs, expectedAddresses, proxyStates, statesOnly = false } = options;
  if (expectedIds.length === 0) return;
  const expected = new Set(expectedIds);
  const deadline = Date.now() + timeoutMs;
  if (proxy === 'haproxy' && proxyStates && expectedAddresses) {
    await waitFor(
      async () => {
        const states = await proxyStates();
        if (states === undefined) throw new Error('the proxy shows no server states');
        return assertUpExactly(states, expectedAddresses);
      },
      { what: `haproxy at ${proxyUrl} to have exactly [${expectedAddresses.join(', ')}] UP`, timeoutMs, intervalMs: 200 },
    );
    if (statesOnly) return;
  }
  const samples = proxy === 'haproxy' && proxyStates && expectedAddresses ? 1 : Math.max(4, expectedIds.length * 3);
  await waitFor(
    async () => {
      const seen = await sampleReplicas(proxyUrl, samples);
      const unexpected = [...seen].filter((id) => !expected.has(id));
      if (unexpected.length > 0) throw new Error(`routed to unexpected replicas ${unexpected.join(', ')}`);
      if (proxy === 'nginx' || samples === 1) return seen.size > 0;
      const missing = expectedIds.filter((id) => !seen.has(id));
      if (missing.length > 0) throw new Error(`no client reached ${missing.join(', ')} yet`);
      return true;
    },
    {
      what: `${proxy} at ${proxyUrl} to route to exactly the replicas ${expectedIds.join(', ')}`,
      timeoutMs: Math.max(1_000, deadline - Date.now()),
      intervalMs: 500,
    },
  );
};
