import { type Authenticator, createAuthenticator } from './auth.ts';
import type { Config } from './config.ts';
import { engineVersionGuard } from './engine-version-guard.ts';
import type { EventCheck } from './event-check.ts';
import type { HandshakeGuard } from './handshake-guard.ts';
import type { Logger } from './logger.ts';
import { originGuard } from './origin-guard.ts';
import { rateLimitCheck } from './rate-limiter.ts';

/** Everything the replica refuses, derived from its configuration alone. */
export interface Security {
  /** On each new Engine.IO session, before any packet (and before a WebSocket upgrade): protocol version, Origin. */
  handshakeGuards: HandshakeGuard[];
  /** For `io.use`, when authentication is on. */
  middleware: Authenticator['middleware'] | undefined;
  /** Before every event: the rate limit first (cheapest), then room authorization. */
  eventChecks: EventCheck[];
}

export function securityFor(config: Config, logger?: Logger): Security {
  const authenticator = config.auth ? createAuthenticator(config.auth, logger ? { logger } : {}) : undefined;
  const rateLimit = rateLimitCheck(config.rateLimit, logger ? { logger } : {});
  return {
    handshakeGuards: [engineVersionGuard, originGuard(config.corsOrigins)],
    middleware: authenticator?.middleware,
    eventChecks: [...(rateLimit ? [rateLimit] : []), ...(authenticator ? [authenticator.roomCheck] : [])],
  };
}
