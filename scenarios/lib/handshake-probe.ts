import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { requestFor, tlsOptionsFor } from '../../client/tls-trust.ts';
import { cookieHeader, httpRequest } from './raw-polling.ts';

/**
 * One Engine.IO handshake sent by hand, with the headers a browser page (or
 * an attacker) would send, and how it was answered. A session it opens is
 * closed again at once: these probe the door, they do not stay.
 */
export interface HandshakeAnswer {
  /** HTTP status: 200 (polling session opened), 101 (WebSocket opened), or the refusal's status. */
  status: number;
  /** The refusal's body (Engine.IO puts the reason in it). */
  body: string;
}

const ENGINE_PATH = '/socket.io/?EIO=4&transport=';

/** Bounded by httpRequest's own 10 s. */
export async function pollingHandshake(baseUrl: string, headers: Record<string, string>): Promise<HandshakeAnswer> {
  const reply = await httpRequest(`${baseUrl}${ENGINE_PATH}polling`, { headers });
  if (reply.status === 200 && reply.body.startsWith('0{')) {
    const { sid } = JSON.parse(reply.body.slice(1)) as { sid: string };
    const cookie = cookieHeader(reply.setCookie);
    await httpRequest(`${baseUrl}${ENGINE_PATH}polling&sid=${encodeURIComponent(sid)}`, {
      method: 'POST',
      body: '1',
      headers: cookie ? { ...headers, cookie } : headers,
    }).catch(() => undefined);
  }
  return { status: reply.status, body: reply.body };
}

export function websocketHandshake(baseUrl: string, headers: Record<string, string>, timeoutMs = 5000): Promise<HandshakeAnswer> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}${ENGINE_PATH}websocket`, { headers, handshakeTimeout: timeoutMs, ...tlsOptionsFor(baseUrl) });
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no answer to the WebSocket handshake at ${baseUrl} within ${timeoutMs} ms`));
    }, timeoutMs);
    ws.once('open', () => {
      clearTimeout(timer);
      ws.close();
      resolve({ status: 101, body: '' });
    });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => {
        clearTimeout(timer);
        ws.terminate();
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    ws.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** A handshake answer as it came off the wire: what a conformance check compares. */
export interface RawHandshakeAnswer extends HandshakeAnswer {
  /** The Content-Type header of a refusal ('' when absent, e.g. on 101). */
  contentType: string;
}

/**
 * One handshake with any query string, over `transport`: a polling GET, or
 * a WebSocket upgrade request sent by hand (ws would refuse to send a
 * malformed one, and its `unexpected-response` hides nothing but is tied to
 * a well-formed URL). This reads the answer and stays for nothing else: a
 * WebSocket that opens is dropped at once, a polling session that opens is
 * left to expire on the server. Bounded by `timeoutMs`.
 */
export function rawHandshake(
  baseUrl: string,
  transport: 'polling' | 'websocket',
  query: string,
  headers: Record<string, string> = {},
  timeoutMs = 5000,
): Promise<RawHandshakeAnswer> {
  const upgrade =
    transport === 'websocket'
      ? { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': randomBytes(16).toString('base64') }
      : { connection: 'close' };
  return new Promise((resolve, reject) => {
    const req = requestFor(`${baseUrl}/socket.io/?${query}`, { headers: { ...upgrade, ...headers }, timeout: timeoutMs, agent: false });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, body: '', contentType: res.headers['content-type'] ?? '' });
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), contentType: res.headers['content-type'] ?? '' }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${transport} handshake ?${query} at ${baseUrl}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}
