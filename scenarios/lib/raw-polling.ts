import { agentFor, requestFor } from '../../client/tls-trust.ts';

/**
 * A polling session driven with bare HTTP requests, the way curl with a
 * cookie jar would: handshake, connect the default namespace, then rounds of
 * "POST whoami, GET the ack". Each request goes on a fresh TCP connection, so
 * only the cookie (or the source address) can keep it on one replica.
 */

const RECORD_SEPARATOR = '\x1e';
const SESSION_UNKNOWN = 'Session ID unknown';

export interface HttpReply {
  status: number;
  body: string;
  setCookie: string[];
}

export function httpRequest(
  url: string,
  { method = 'GET', body, headers = {}, localAddress }: { method?: string; body?: string; headers?: Record<string, string>; localAddress?: string },
): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const agent = agentFor(url, { keepAlive: false, localAddress });
    const req = requestFor(
      url,
      {
        method,
        agent,
        headers: { connection: 'close', ...(body === undefined ? {} : { 'content-type': 'text/plain;charset=UTF-8' }), ...headers },
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            setCookie: res.headers['set-cookie'] ?? [],
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no answer within 10 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** The `name=value` parts of Set-Cookie headers, as a Cookie header would send them back. */
/** A Set-Cookie line with the `Secure` attribute (case-insensitive, any position after the pair). */
export function isSecureCookie(setCookie: string): boolean {
  return setCookie
    .split(';')
    .slice(1)
    .some((attribute) => attribute.trim().toLowerCase() === 'secure');
}

export function cookieHeader(setCookie: readonly string[]): string | undefined {
  const pairs = setCookie.map((line) => line.split(';', 1)[0]!.trim()).filter((pair) => pair.includes('='));
  return pairs.length ? pairs.join('; ') : undefined;
}

/** Split an engine.io v4 polling payload into packets. */
export function decodePollingPayload(body: string): string[] {
  return body.length === 0 ? [] : body.split(RECORD_SEPARATOR);
}

export function isSessionUnknown(reply: HttpReply): boolean {
  return reply.status === 400 && reply.body.includes(SESSION_UNKNOWN);
}

export interface PollingProbeOptions {
  /** Send the proxy's cookie back (what a browser does). False = the negative control. */
  keepCookie: boolean;
  rounds: number;
  localAddress?: string;
  path?: string;
}

export interface PollingProbeResult {
  requests: number;
  sessionUnknown: number;
  otherErrors: number;
  /** Replicas that answered `whoami` in this one session (1 when sticky). */
  replicas: string[];
  /** The affinity cookie the proxy set on the handshake, if any. */
  cookie: string | undefined;
  /** Whether every Set-Cookie of the handshake carried `Secure` (false when none was set). */
  cookieSecure: boolean;
}

export async function probePollingSession(baseUrl: string, options: PollingProbeOptions): Promise<PollingProbeResult> {
  const path = options.path ?? '/socket.io/';
  const endpoint = (sid?: string) =>
    `${baseUrl.replace(/\/$/, '')}${path}?EIO=4&transport=polling&t=${Date.now().toString(36)}${sid ? `&sid=${sid}` : ''}`;
  const result: PollingProbeResult = { requests: 0, sessionUnknown: 0, otherErrors: 0, replicas: [], cookie: undefined, cookieSecure: false };
  const seen = new Set<string>();
  let cookie: string | undefined;
  const send = async (method: 'GET' | 'POST', sid?: string, body?: string) => {
    result.requests += 1;
    const reply = await httpRequest(endpoint(sid), {
      method,
      ...(body === undefined ? {} : { body }),
      headers: cookie && options.keepCookie ? { cookie } : {},
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    });
    if (isSessionUnknown(reply)) result.sessionUnknown += 1;
    else if (reply.status !== 200) result.otherErrors += 1;
    return reply;
  };

  const handshake = await send('GET');
  if (handshake.status !== 200 || !handshake.body.startsWith('0')) {
    throw new Error(`polling handshake failed: HTTP ${handshake.status} ${handshake.body.slice(0, 200)}`);
  }
  const { sid } = JSON.parse(handshake.body.slice(1)) as { sid: string };
  cookie = cookieHeader(handshake.setCookie);
  result.cookie = cookie;
  result.cookieSecure = handshake.setCookie.length > 0 && handshake.setCookie.every(isSecureCookie);

  // Connect the default namespace. Without affinity the POST may land on a
  // replica that does not know the sid; a GET is only sent after a POST was
  // accepted, because a GET on the owning replica with nothing queued would
  // hang for a whole pingInterval. Bounded: a few attempts, then give up.
  let connected = false;
  for (let attempt = 0; attempt < 5 && !connected; attempt++) {
    if ((await send('POST', sid, '40')).status !== 200) continue;
    connected = (await send('GET', sid)).status === 200; // "40{sid}" and the welcome event
  }
  if (!connected) {
    result.replicas = [];
    return result;
  }
  for (let round = 0; round < options.rounds; round++) {
    const ackId = round + 1;
    const posted = await send('POST', sid, `42${ackId}["whoami"]`);
    if (posted.status !== 200) continue;
    // The ack is the next packet this session has; a GET never waits long
    // because the POST above has just queued the answer on its replica.
    const polled = await send('GET', sid);
    for (const packet of decodePollingPayload(polled.body)) {
      if (!packet.startsWith(`43${ackId}`)) continue;
      const [reply] = JSON.parse(packet.slice(2 + String(ackId).length)) as [{ replica?: string }];
      if (reply.replica) seen.add(reply.replica);
    }
  }
  await send('POST', sid, '1').catch(() => undefined);
  result.replicas = [...seen];
  return result;
}
