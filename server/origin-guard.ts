import type { IncomingMessage } from 'node:http';
import { ENGINE_ERRORS, type HandshakeGuard } from './handshake-guard.ts';

function firstHeader(value: string | string[] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  // X-Forwarded-Host may list every proxy on the way; the first is what the client asked for.
  const host = first?.split(',', 1)[0]?.trim();
  return host === '' ? undefined : host;
}

/**
 * The host the client addressed: X-Forwarded-Host when a proxy set it,
 * else Host (HAProxy keeps it; the Nginx template passes $http_host).
 */
function requestedHost(req: IncomingMessage): string | undefined {
  return firstHeader(req.headers['x-forwarded-host']) ?? firstHeader(req.headers.host);
}

/**
 * True when `origin` names the host the request was sent to, compared the
 * way a browser would: case-insensitive, default ports dropped. The scheme
 * is not compared: behind a TLS-terminating proxy the page is https while
 * the replica sees plain http.
 */
export function isSameOrigin(origin: string, req: IncomingMessage): boolean {
  const host = requestedHost(req);
  if (host === undefined) return false;
  try {
    const page = new URL(origin);
    if (page.protocol !== 'http:' && page.protocol !== 'https:') return false;
    return new URL(`${page.protocol}//${host}`).host === page.host;
  } catch {
    return false;
  }
}

/**
 * Keep other origins' pages out, on every transport. CORS headers alone do
 * not: a browser lets any page open a WebSocket to any host (it only sends
 * the page's Origin along), and a polling POST with a text body needs no
 * preflight. So each new Engine.IO session is checked here:
 *
 * - no Origin header: not a browser page (curl, a Node client, a native
 *   app), which could send any header it liked anyway: allowed;
 * - Origin equal to one of CORS_ORIGINS, or CORS_ORIGINS is "*": allowed;
 * - Origin naming the host the request was sent to (same origin): allowed;
 * - anything else, including the opaque origin "null" (sandboxed frames,
 *   file:// pages): refused with HTTP 403 on both transports (RFC 6455
 *   §4.2.2: an unacceptable Origin gets "an appropriate error code (such as
 *   403 Forbidden)"), Engine.IO code 4 (FORBIDDEN) in the polling body.
 */
export function originGuard(corsOrigins: readonly string[]): HandshakeGuard {
  const allowed = new Set(corsOrigins);
  const any = allowed.has('*');
  return (req) => {
    const origin = req.headers.origin;
    if (origin === undefined || any || allowed.has(origin) || isSameOrigin(origin, req)) return undefined;
    return {
      status: 403,
      code: ENGINE_ERRORS.FORBIDDEN,
      message: `origin ${JSON.stringify(origin.slice(0, 200))} is not allowed (same origin only, or CORS_ORIGINS)`,
    };
  };
}
