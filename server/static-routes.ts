import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Routes } from './http-router.ts';

/** The demo page's files; next to this module in the repo and (copied by the Dockerfile) in the image. */
export const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));

const TYPES: Readonly<Record<string, string>> = {
  html: 'text/html; charset=utf-8',
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
};

/**
 * Same origin only: the page's scripts, styles and sockets all come from the
 * replica (through the proxy) that served it; nothing inline, nothing framed.
 * `connect-src 'self'` covers ws:// to the same host in CSP 3 browsers.
 */
const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** URL path → file in PUBLIC_DIR. An explicit list: nothing else under the directory is reachable. */
const FILES: Readonly<Record<string, string>> = {
  '/': 'index.html',
  '/index.html': 'index.html',
  '/demo.js': 'demo.js',
  '/demo.css': 'demo.css',
};

/**
 * The demo page as plain-HTTP routes (AppDeps.routes). Files are read once,
 * when the routes are made: a missing file fails the start, not a request.
 * The Socket.IO browser client comes from Socket.IO itself
 * (`/socket.io/socket.io.min.js`, serveClient), so there is no build step.
 */
export function staticRoutes(dir: string = PUBLIC_DIR): Routes {
  const routes: Record<string, Routes[string]> = {};
  for (const [path, file] of Object.entries(FILES)) {
    const body = readFileSync(join(dir, file));
    const type = TYPES[file.slice(file.lastIndexOf('.') + 1)] ?? 'application/octet-stream';
    const headers: Record<string, string | number> = {
      'content-type': type,
      'content-length': body.length,
      // Revalidate every time: a rolling upgrade must not leave old pages cached.
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      ...(type.startsWith('text/html') ? { 'content-security-policy': PAGE_CSP } : {}),
    };
    routes[path] = (req, res) => {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      res.writeHead(200, headers);
      res.end(req.method === 'HEAD' ? undefined : body);
    };
  }
  return routes;
}
