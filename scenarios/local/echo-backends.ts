import { createHash, randomBytes } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import { connect } from 'node:net';
import { freeTcpPort, isTcpPortFreeOn } from '../lib/free-port.ts';

/**
 * Test support for the proxy integration tests: tiny HTTP servers standing in
 * for replicas, one per loopback address, all on the same port (as containers
 * are). `/readyz` answers 200 or 503 on demand; any other path answers with
 * the backend's address, so a test sees which replica served it. An HTTP
 * Upgrade is accepted with 101 and the connection then echoes bytes, which is
 * enough to prove a proxy tunnels WebSocket traffic.
 */

export interface EchoBackend {
  readonly address: string;
  readonly port: number;
  /** "address:port", as DNS + port or an nginx server line name it. */
  readonly hostPort: string;
  /** Requests served, /readyz excluded. */
  readonly hits: number;
  /** What /readyz answers: true → 200, false → 503. */
  ready: boolean;
}

export interface EchoBackends {
  readonly port: number;
  readonly backends: readonly EchoBackend[];
  byAddress(address: string): EchoBackend;
  close(): Promise<void>;
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

export async function startEchoBackends(addresses: readonly string[]): Promise<EchoBackends> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await freeTcpPort(addresses[0]);
    if (!(await isTcpPortFreeOn(port, addresses))) continue;
    const servers: Server[] = [];
    const backends: Array<EchoBackend & { hits: number }> = [];
    try {
      for (const address of addresses) {
        const backend = { address, port, hostPort: `${address}:${port}`, hits: 0, ready: true };
        const server = createServer((req, res) => {
          if (req.url === '/readyz') {
            res.writeHead(backend.ready ? 200 : 503, { 'content-type': 'text/plain' }).end(backend.ready ? 'ready' : 'draining');
            return;
          }
          backend.hits += 1;
          let size = 0;
          req.on('data', (chunk: Buffer) => {
            size += chunk.length;
          });
          req.on('end', () => {
            res.writeHead(200, { 'content-type': 'text/plain', 'x-backend': address, 'x-body-bytes': String(size) });
            res.end(address);
          });
        });
        server.on('upgrade', (req, socket) => {
          backend.hits += 1;
          // RFC 6455 §4.2.2: proxies (HAProxy >= 2.4) check the handshake headers.
          const accept = createHash('sha1')
            .update(`${req.headers['sec-websocket-key'] ?? ''}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
            .digest('base64');
          socket.write(
            `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
              `Sec-WebSocket-Accept: ${accept}\r\nX-Backend: ${address}\r\n\r\n`,
          );
          socket.pipe(socket);
        });
        await listen(server, address, port);
        servers.push(server);
        backends.push(backend);
      }
    } catch (error) {
      await Promise.all(servers.map(closeServer));
      if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') continue;
      throw error;
    }
    return {
      port,
      backends,
      byAddress(address) {
        const found = backends.find((b) => b.address === address);
        if (!found) throw new Error(`no echo backend at ${address}`);
        return found;
      },
      close: async () => {
        await Promise.all(servers.map(closeServer));
      },
    };
  }
  throw new Error(`no TCP port free on every one of ${addresses.join(', ')} after 20 tries`);
}

export interface SimpleResponse {
  status: number;
  body: string;
  /** Set-Cookie headers, as sent. */
  setCookie: string[];
}

/**
 * One request on its own connection (no keep-alive: every call is a new
 * client connection as far as the proxy's balancing goes), optionally with a
 * Cookie header and a chosen source address.
 */
export function httpRequest(
  url: string,
  options: { cookie?: string; localAddress?: string; method?: string; body?: Buffer } = {},
): Promise<SimpleResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: options.method ?? 'GET',
        agent: false,
        headers: {
          connection: 'close',
          ...(options.cookie ? { cookie: options.cookie } : {}),
          ...(options.body ? { 'content-length': String(options.body.length) } : {}),
        },
        ...(options.localAddress ? { localAddress: options.localAddress } : {}),
        timeout: 5000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, setCookie: res.headers['set-cookie'] ?? [] }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${options.method ?? 'GET'} ${url} timed out after 5000 ms`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/**
 * Ask `url` for an HTTP Upgrade, then send `message` through the tunnel and
 * read it back: { status, backend (X-Backend of the 101), echoed }.
 */
export function upgradeAndEcho(
  url: string,
  message: string,
  localAddress?: string,
): Promise<{ status: number; backend: string; echoed: string }> {
  const { hostname, port, pathname } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port), ...(localAddress ? { localAddress } : {}) });
    socket.setTimeout(5000, () => socket.destroy(new Error(`upgrade via ${url} timed out after 5000 ms`)));
    let buffer = '';
    let head: { status: number; backend: string } | undefined;
    socket.setEncoding('utf8');
    socket.on('connect', () => {
      socket.write(
        `GET ${pathname} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
          `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n\r\n`,
      );
    });
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      if (!head) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        const lines = buffer.slice(0, end).split('\r\n');
        const status = Number(lines[0]?.split(' ')[1]);
        const backend = lines.find((l) => /^x-backend:/i.test(l))?.split(':')[1]?.trim() ?? '';
        head = { status, backend };
        buffer = buffer.slice(end + 4);
        if (status !== 101) {
          socket.destroy();
          resolve({ ...head, echoed: '' });
          return;
        }
        socket.write(message);
      }
      if (head && buffer.length >= message.length) {
        socket.destroy();
        resolve({ ...head, echoed: buffer });
      }
    });
    socket.on('error', reject);
  });
}
