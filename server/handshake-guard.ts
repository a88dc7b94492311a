import type { IncomingMessage } from 'node:http';
import type { AppPhase } from './health.ts';

/**
 * Engine.IO's error codes (engine.io's `Server.errors`), which go into the
 * JSON body of a refused polling handshake. Only the ones a guard uses.
 */
export const ENGINE_ERRORS = Object.freeze({ BAD_REQUEST: 3, FORBIDDEN: 4, UNSUPPORTED_PROTOCOL_VERSION: 5 });

/**
 * How a handshake is refused: the HTTP status, the Engine.IO error code and
 * the message. Polling gets `{"code","message"}` as JSON (engine.io's own
 * shape), WebSocket the message as the body of a plain HTTP answer, before
 * any upgrade.
 */
export interface HandshakeRefusal {
  readonly status: 400 | 403 | 503;
  readonly code: number;
  readonly message: string;
}

/** A check on a new Engine.IO handshake: a refusal, or undefined to let it through. */
export type HandshakeGuard = (req: IncomingMessage) => HandshakeRefusal | undefined;

/**
 * Engine.IO has no code for "come back later"; 4 is the one it uses for any
 * refusal by the server's own choice. The status (503) is what says "not
 * you, not now": the proxy's retry or the client's reconnection lands on
 * another replica.
 */
export const DRAINING: HandshakeRefusal = Object.freeze({ status: 503, code: ENGINE_ERRORS.FORBIDDEN, message: 'replica is draining' });

/**
 * Why a new session must be refused, if it must. The guards (protocol
 * version, Origin, then any extra ones) run first and in order, so a
 * request that is wrong everywhere hears so (400, 403) rather than a 503
 * that invites it to retry elsewhere; only then does a draining (or closed)
 * replica refuse what another replica would take.
 */
export function handshakeRefusal(
  req: IncomingMessage,
  phase: AppPhase,
  guards: readonly HandshakeGuard[],
): HandshakeRefusal | undefined {
  for (const guard of guards) {
    const refusal = guard(req);
    if (refusal !== undefined) return refusal;
  }
  return phase === 'running' ? undefined : DRAINING;
}
