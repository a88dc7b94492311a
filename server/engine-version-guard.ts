import type { HandshakeGuard } from './handshake-guard.ts';

/**
 * Refuse a handshake that does not ask for Engine.IO protocol 4 (the only
 * one this replica speaks: allowEIO3 is off). Engine.IO itself checks the
 * version only after a WebSocket upgrade has completed, then writes an HTTP
 * "400 Bad Request" onto the open WebSocket: the client reads it as a broken
 * frame. Refused here, before the upgrade, the client gets a real HTTP 400.
 * Every EIO parameter must say 4 (Engine.IO reads the last of several).
 */
export const engineVersionGuard: HandshakeGuard = (req) => {
  let versions: string[];
  try {
    versions = new URL(req.url ?? '/', 'http://replica.invalid').searchParams.getAll('EIO');
  } catch {
    return 'unreadable request URL';
  }
  if (versions.length > 0 && versions.every((version) => version === '4')) return undefined;
  return 'unsupported Engine.IO protocol version: EIO=4 only';
};
