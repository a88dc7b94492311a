import { io, type Socket } from 'socket.io-client';
import { agentFor, trustedCa } from './tls-trust.ts';
import type { ClientToServerEvents, ServerToClientEvents, TransportName, Welcome } from '../server/protocol.ts';

export type WskSocket = Socket<ServerToClientEvents, ClientToServerEvents>;
export type ClientTransport = Exclude<TransportName, 'webtransport'>;

export interface ConnectOptions {
  /** Transports in order; default is Socket.IO's own (polling, then upgrade to websocket). */
  transports?: ClientTransport[];
  /** Source address for every request and the WebSocket (e.g. 127.0.3.1 for ip_hash tests). */
  localAddress?: string;
  /**
   * Keep cookies (the proxy's affinity cookie) in a per-client jar. Default
   * true: without it a Node client never sends the cookie back and polling
   * sessions break behind a cookie-affinity proxy.
   */
  withCredentials?: boolean;
  /** Auto-reconnect like a browser does (default true). */
  reconnection?: boolean;
  reconnectionDelayMs?: number;
  reconnectionDelayMaxMs?: number;
  /** Handshake `auth` payload (e.g. a JWT). */
  auth?: Record<string, unknown>;
  /** Extra request headers (e.g. Origin), Node only. */
  extraHeaders?: Record<string, string>;
  /** Socket.IO path, default /socket.io/. */
  path?: string;
  /**
   * PEM of the only CAs trusted for https:// / wss:// (replaces Node's
   * roots). Default: setTrustedCa's, else Node's roots.
   */
  ca?: string;
}

/**
 * Create a client the way real clients connect: through the proxy, cookie
 * jar on, optional source address. The socket is created unconnected so the
 * caller can attach listeners before the first packet; call `socket.connect()`
 * or use `openClient` which does both.
 */
export function createClient(url: string, options: ConnectOptions = {}): WskSocket {
  const ca = options.ca ?? trustedCa();
  const secure = /^https:/i.test(url);
  // https needs an https.Agent (an http.Agent refuses https: URLs); it
  // carries the CA for polling, and `ca` below carries it for the WebSocket.
  const agent =
    options.localAddress || (secure && ca !== undefined) ? agentFor(url, { localAddress: options.localAddress, keepAlive: true, ca }) : undefined;
  return io(url, {
    autoConnect: false,
    // A fresh Manager per client: the default multiplexing would put many
    // "clients" on one engine connection and one replica.
    forceNew: true,
    transports: options.transports ?? ['polling', 'websocket'],
    withCredentials: options.withCredentials ?? true,
    reconnection: options.reconnection ?? true,
    reconnectionDelay: options.reconnectionDelayMs ?? 1000,
    reconnectionDelayMax: options.reconnectionDelayMaxMs ?? 5000,
    path: options.path ?? '/socket.io/',
    ...(options.auth ? { auth: options.auth } : {}),
    ...(options.extraHeaders ? { extraHeaders: options.extraHeaders } : {}),
    // Polling requests go through `agent` (xmlhttprequest-ssl), the
    // WebSocket through `localAddress` (ws); both are needed to pin the source.
    // engine.io-client types `agent` as string|boolean (its browser view); in
    // Node it is handed to http.request as is, so an Agent is what it wants.
    ...(agent ? { agent: agent as unknown as string } : {}),
    ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    ...(secure && ca !== undefined ? { ca } : {}),
  });
}

export interface OpenClient {
  socket: WskSocket;
  welcome: Welcome;
}

export class ConnectError extends Error {
  readonly code = 'CONNECT_FAILED';
  constructor(
    readonly url: string,
    reason: string,
  ) {
    super(`could not connect to ${url}: ${reason}`);
    this.name = 'ConnectError';
  }
}

/** Connect and wait for the replica's `welcome`; rejects on `connect_error` or after `timeoutMs`. */
export function openClient(url: string, options: ConnectOptions = {}, timeoutMs = 10_000): Promise<OpenClient> {
  const socket = createClient(url, options);
  return new Promise<OpenClient>((resolve, reject) => {
    let lastError = 'no answer';
    const timer = setTimeout(() => {
      cleanup();
      socket.disconnect();
      reject(new ConnectError(url, `no welcome within ${timeoutMs} ms (last error: ${lastError})`));
    }, timeoutMs);
    const onWelcome = (welcome: Welcome) => {
      cleanup();
      resolve({ socket, welcome });
    };
    const onError = (error: Error) => {
      lastError = error.message;
      // With reconnection off a connect_error is final; with it on, keep trying until the deadline.
      if (options.reconnection === false) {
        cleanup();
        socket.disconnect();
        reject(new ConnectError(url, error.message));
      }
    };
    const cleanup = () => {
      clearTimeout(timer);
      socket.off('welcome', onWelcome);
      socket.off('connect_error', onError);
    };
    socket.once('welcome', onWelcome);
    socket.on('connect_error', onError);
    socket.connect();
  });
}
