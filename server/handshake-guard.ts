import type { IncomingMessage } from 'node:http';
import type { AppPhase } from './health.ts';

/** A check on a new Engine.IO handshake: a reason to refuse it, or undefined to let it through. */
export type HandshakeGuard = (req: IncomingMessage) => string | undefined;

/**
 * Why a new session must be refused, if it must: a draining (or closed)
 * replica takes no new clients, so the proxy's retry or the client's
 * reconnection lands elsewhere. Further guards (origin, authentication) run
 * after that, in order. Engine.IO answers a refusal with HTTP 403.
 */
export function handshakeRefusal(
  req: IncomingMessage,
  phase: AppPhase,
  guards: readonly HandshakeGuard[],
): string | undefined {
  if (phase !== 'running') return 'replica is draining';
  for (const guard of guards) {
    const reason = guard(req);
    if (reason !== undefined) return reason;
  }
  return undefined;
}
