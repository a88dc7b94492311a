import type { Topology } from '../topology.ts';

export interface HttpGetOptions {
  headers?: Readonly<Record<string, string>>;
  timeoutMs?: number;
}

export interface HttpGetResult {
  status: number;
  body: string;
}

/**
 * GET a URL and read its whole body. Scenarios reach replicas' /readyz and
 * /metrics through one of these, so a topology whose replicas sit where the
 * runner has no route (Swarm's overlay network) can answer from inside.
 */
export type HttpGet = (url: string, options?: HttpGetOptions) => Promise<HttpGetResult>;

export const DEFAULT_GET_TIMEOUT_MS = 3000;

/** From the runner itself: local processes, Compose's bridge network. */
export const directGet: HttpGet = async (url, { headers = {}, timeoutMs = DEFAULT_GET_TIMEOUT_MS } = {}) => {
  const response = await fetch(url, { headers: { ...headers }, signal: AbortSignal.timeout(timeoutMs) });
  return { status: response.status, body: await response.text() };
};

/** The topology's own way in when it has one, else a direct GET. */
export function httpGetOf(topology: Pick<Topology, 'httpGet'>): HttpGet {
  return topology.httpGet ? (url, options) => topology.httpGet!(url, options) : directGet;
}
