import type { IncomingMessage, ServerResponse } from 'node:http';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void;
/** Exact pathnames (query strings ignored) to handlers. */
export type Routes = Readonly<Record<string, RouteHandler>>;

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    // Health answers change from one second to the next; nothing may cache them.
    'cache-control': 'no-store',
  });
  res.end(text);
}

/**
 * The replica's plain HTTP requests: Socket.IO takes its own path before this
 * handler sees anything, every route here is matched exactly, and everything
 * else is a 404 (no directory listing, no framework banner).
 */
export function createRouter(routes: Routes): RouteHandler {
  const table = new Map(Object.entries(routes));
  return (req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    const route = table.get(path);
    if (route) route(req, res);
    else sendJson(res, 404, { status: 'not found', path });
  };
}
