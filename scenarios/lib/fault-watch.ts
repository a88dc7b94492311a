import { performance } from 'node:perf_hooks';
import { createClient, type WskSocket } from '../../client/connect.ts';
import type { Welcome } from '../../server/protocol.ts';
import type { Topology } from '../topology.ts';
import { directGet, type HttpGet } from './http-get.ts';
import type { PooledClient } from './client-pool.ts';
import { waitFor } from './wait-for.ts';

/** Status code of GET `${baseUrl}/readyz`, or 0 when nothing answers. */
export async function readyzStatus(baseUrl: string, timeoutMs = 1000, get: HttpGet = directGet): Promise<number> {
  try {
    return (await get(`${baseUrl}/readyz`, { timeoutMs })).status;
  } catch {
    return 0;
  }
}

/**
 * Resolves with the ms from `since` until the proxy no longer routes new
 * clients to `address` (its slot not UP, or gone), or undefined when the
 * topology cannot show the proxy's server states (Nginx, Docker drivers).
 */
export async function proxyMarkDownMs(
  topology: Topology,
  address: string,
  since: number,
  timeoutMs = 15_000,
): Promise<number | undefined> {
  return (await proxyMarkDown(topology, address, since, timeoutMs))?.ms;
}

/**
 * proxyMarkDownMs with its resolution: `pollMs` is how long the read that
 * first saw the slot down took. The state changed before that read ended,
 * somewhere inside it or before it, so `ms` is late by up to `pollMs`:
 * 20 ms locally, a `docker exec` (~0.2-0.5 s) on Swarm.
 */
export async function proxyMarkDown(
  topology: Topology,
  address: string,
  since: number,
  timeoutMs = 15_000,
): Promise<{ ms: number; pollMs: number } | undefined> {
  if (!topology.proxyServerStates || (await topology.proxyServerStates()) === undefined) return undefined;
  let pollMs = 0;
  await waitFor(
    async () => {
      const started = performance.now();
      const states = (await topology.proxyServerStates?.()) ?? [];
      pollMs = performance.now() - started;
      return !states.some((state) => state.address === address && state.up);
    },
    { what: `the proxy to mark ${address} down`, timeoutMs, intervalMs: 20 },
  );
  return { ms: Math.round(performance.now() - since), pollMs: Math.round(pollMs) };
}

/** Wait until the proxy (if it shows its state) has every one of `addresses` UP again. */
export async function proxyRoutesTo(topology: Topology, addresses: readonly string[], timeoutMs = 15_000): Promise<void> {
  if (!topology.proxyServerStates || (await topology.proxyServerStates()) === undefined) return;
  await waitFor(
    async () => {
      const up = new Set(((await topology.proxyServerStates?.()) ?? []).filter((s) => s.up).map((s) => s.address));
      const missing = addresses.filter((address) => !up.has(address));
      if (missing.length > 0) throw new Error(`not UP: ${missing.join(', ')}`);
      return true;
    },
    { what: `the proxy to have [${addresses.join(', ')}] UP`, timeoutMs, intervalMs: 100 },
  );
}

/** Replica id → how many of `clients` it holds now. */
export function clientCounts(clients: readonly PooledClient[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const client of clients) counts.set(client.replica, (counts.get(client.replica) ?? 0) + 1);
  return counts;
}

/**
 * The replica to break: among those holding clients, the one holding the
 * most (`most`, to move the most clients) or the fewest (`fewest`, the one
 * leastconn would pick next). Ties go to the lower id, so runs repeat.
 */
export function pickVictim(clients: readonly PooledClient[], prefer: 'most' | 'fewest'): string | undefined {
  const counts = [...clientCounts(clients)].sort((a, b) =>
    a[1] === b[1] ? a[0].localeCompare(b[0]) : prefer === 'most' ? b[1] - a[1] : a[1] - b[1],
  );
  return counts[0]?.[0];
}

/** Ms from `since` at which each client next hears a `welcome` (a reconnection landed), in `into`. */
export function recordNextWelcome(clients: readonly PooledClient[], since: number, into: Map<PooledClient, number>): void {
  for (const client of clients) {
    client.socket.once('welcome', () => into.set(client, Math.round(performance.now() - since)));
  }
}

export interface CountedClient {
  socket: WskSocket;
  welcome: Welcome;
  /** connect_error events before the welcome (e.g. refused by a draining replica). */
  connectErrors: number;
}

/**
 * Open one client like openClient does, but count the connect errors it
 * rides out on the way (openClient hides them): a proxy that routes a new
 * client to a replica that refuses it shows up here.
 */
export function openCountingErrors(url: string, localAddress: string, timeoutMs = 15_000): Promise<CountedClient> {
  const socket = createClient(url, { localAddress });
  let connectErrors = 0;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.disconnect();
      reject(new Error(`no welcome from ${url} within ${timeoutMs} ms (${connectErrors} connect errors)`));
    }, timeoutMs);
    socket.on('connect_error', () => {
      connectErrors += 1;
    });
    socket.once('welcome', (welcome) => {
      clearTimeout(timer);
      resolve({ socket, welcome, connectErrors });
    });
    socket.connect();
  });
}

/** Sum of a numeric field. */
export function sum<T>(items: readonly T[], value: (item: T) => number): number {
  return items.reduce((total, item) => total + value(item), 0);
}
