import { Agent as HttpAgent, type ClientRequest, type IncomingMessage, request as httpRequest, type RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/**
 * Which certificate authorities a client trusts for https:// and wss://.
 * Unset: Node's own roots (a real certificate). Set to a PEM: that PEM and
 * nothing else, since Node's `ca` option replaces the root store rather than
 * adding to it. The scenario runner sets it once per run to its throwaway
 * CA, so every client of the run trusts exactly that CA (never
 * rejectUnauthorized: false, which would prove nothing about the proxy's
 * certificate).
 */
let trusted: string | undefined;

export function setTrustedCa(pem: string | undefined): void {
  trusted = pem;
}

export function trustedCa(): string | undefined {
  return trusted;
}

const isSecure = (url: string | URL): boolean => /^(https|wss):/i.test(String(url));

/** `ca` for tls options when `url` is secure and a CA is set (spread it into ws / https options). */
export function tlsOptionsFor(url: string | URL, ca: string | undefined = trusted): { ca?: string } {
  return isSecure(url) && ca !== undefined ? { ca } : {};
}

export interface AgentOptions {
  localAddress?: string | undefined;
  keepAlive?: boolean;
  maxSockets?: number;
  ca?: string | undefined;
}

/** An http.Agent, or an https.Agent trusting `ca` (default: the trusted CA), for `url`. */
export function agentFor(url: string | URL, options: AgentOptions = {}): HttpAgent {
  const { ca = trusted, ...rest } = options;
  const base = {
    keepAlive: rest.keepAlive ?? false,
    ...(rest.localAddress ? { localAddress: rest.localAddress } : {}),
    ...(rest.maxSockets ? { maxSockets: rest.maxSockets } : {}),
  };
  return isSecure(url) ? new HttpsAgent({ ...base, ...(ca !== undefined ? { ca } : {}) }) : new HttpAgent(base);
}

/** http.request or https.request by the URL's scheme; https trusts the trusted CA unless options say otherwise. */
export function requestFor(url: string | URL, options: RequestOptions, onResponse?: (res: IncomingMessage) => void): ClientRequest {
  if (!isSecure(url)) return httpRequest(url, options, onResponse);
  return httpsRequest(url, { ...tlsOptionsFor(url), ...options }, onResponse);
}

/** GET (or `method`) `url` (http or https, trusted CA) and read the whole body; no redirects followed. */
export function getText(
  url: string,
  {
    headers = {},
    timeoutMs = 5000,
    localAddress,
    method = 'GET',
  }: { headers?: Record<string, string>; timeoutMs?: number; localAddress?: string; method?: string } = {},
): Promise<{ status: number; headers: IncomingMessage['headers']; body: string }> {
  return new Promise((resolve, reject) => {
    const req = requestFor(url, { method, headers, timeout: timeoutMs, agent: false, ...(localAddress ? { localAddress } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}
