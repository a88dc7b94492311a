import { ENGINE_ERRORS, type HandshakeGuard, type HandshakeRefusal } from './handshake-guard.ts';

/**
 * Exactly what plain engine.io answers a polling handshake of a version it
 * does not speak (`400 {"code":5,"message":"Unsupported protocol version"}`),
 * as the Engine.IO protocol asks (HTTP 400 for a missing or wrong mandatory
 * query parameter).
 */
export const UNSUPPORTED_VERSION: HandshakeRefusal = Object.freeze({
  status: 400,
  code: ENGINE_ERRORS.UNSUPPORTED_PROTOCOL_VERSION,
  message: 'Unsupported protocol version',
});

const UNREADABLE_URL: HandshakeRefusal = Object.freeze({ status: 400, code: ENGINE_ERRORS.BAD_REQUEST, message: 'Bad request' });

/**
 * Refuse a handshake that does not ask for Engine.IO protocol 4 (the only
 * one this replica speaks: allowEIO3 is off). Engine.IO itself checks the
 * version only after a WebSocket upgrade has completed, then writes an HTTP
 * "400 Bad Request" onto the open WebSocket: the client reads it as a broken
 * frame. Refused here, before the upgrade, the client gets a real HTTP 400.
 * Every EIO parameter must say 4: engine.io reads only the last of several,
 * so `EIO=3&EIO=4` would pass its own check.
 */
export const engineVersionGuard: HandshakeGuard = (req) => {
  let versions: string[];
  try {
    versions = new URL(req.url ?? '/', 'http://replica.invalid').searchParams.getAll('EIO');
  } catch {
    return UNREADABLE_URL;
  }
  if (versions.length > 0 && versions.every((version) => version === '4')) return undefined;
  return UNSUPPORTED_VERSION;
};
