import { HAPROXY_STATS_PATH, parseHaproxyStatsCsv } from '../local/haproxy.ts';
import type { ProxyServerState } from '../topology.ts';

/** Where HAProxy's stats listener answers, and its basic-auth credentials. */
export interface HaproxyStatsSource {
  /** e.g. http://172.20.0.5:8404 (no path, no credentials). */
  baseUrl: string;
  user: string;
  password: string;
}

/** Port of WSK_STATS_BIND in docker-compose.yml and stack/docker-stack.yml. */
export const DOCKER_STATS_PORT = 8404;
export const STATS_TIMEOUT_MS = 3_000;

export function basicAuth(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** The stats page URL with credentials in it, as a person pastes it into curl or a browser. */
export function statsUrlWithCredentials(source: HaproxyStatsSource): string {
  const url = new URL(`${source.baseUrl}${HAPROXY_STATS_PATH}`);
  url.username = source.user;
  url.password = source.password;
  return url.toString();
}

/** GET /stats;csv from where the runner can reach the listener directly (Compose's bridge). */
export async function fetchStatsCsv(source: HaproxyStatsSource): Promise<string> {
  const url = `${source.baseUrl}${HAPROXY_STATS_PATH};csv`;
  const response = await fetch(url, {
    headers: { authorization: basicAuth(source.user, source.password) },
    signal: AbortSignal.timeout(STATS_TIMEOUT_MS),
  });
  const body = await response.text();
  if (!response.ok) throw new Error(`GET ${url} answered ${response.status}: ${body.slice(0, 200)}`);
  return body;
}

/** The `replicas` backend's slots, as the Topology interface reports them (address without port). */
export function proxyStatesFromCsv(csv: string): ProxyServerState[] {
  return parseHaproxyStatsCsv(csv).map((state) => ({
    address: state.address.split(':')[0] ?? '',
    up: state.status === 'UP',
    rawStatus: state.rawStatus,
    // "* L7OK" while a check is running; L7OK is a passed HTTP check.
    checked: state.checkStatus.replace(/^\* /, '') === 'L7OK',
  }));
}
