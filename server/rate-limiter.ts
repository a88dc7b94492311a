import type { RateLimitConfig } from './config.ts';
import type { EventCheck } from './event-check.ts';
import type { Logger } from './logger.ts';
import type { AckError } from './protocol.ts';
import type { ReplicaSocket } from './socket-types.ts';

/** The window RATE_LIMIT_DISCONNECT_AFTER counts refusals in. */
export const RATE_LIMIT_WINDOW_MS = 10_000;

/**
 * A token bucket: holds up to `capacity` tokens, refills `ratePerSec` per
 * second, and each event takes one. A quiet client can send `capacity`
 * events at once; a busy one is held to `ratePerSec` on average.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly ratePerSec: number,
    readonly capacity: number,
    now: number,
  ) {
    this.tokens = capacity;
    this.last = now;
  }

  /** Take one token if there is one; `now` in milliseconds, never going backwards. */
  take(now: number): boolean {
    const elapsed = Math.max(0, now - this.last);
    this.last = Math.max(this.last, now);
    this.tokens = Math.min(this.capacity, this.tokens + (elapsed * this.ratePerSec) / 1000);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

export type RateDecision = 'allow' | 'refuse' | 'disconnect';

/**
 * One socket's limit: the bucket, plus the abuse rule. A client that only
 * brushes the limit gets refusals and carries on; one that keeps sending
 * after more than `disconnectAfter` refusals within RATE_LIMIT_WINDOW_MS is
 * flooding, and every further event would still cost the replica a decode
 * and a reply, so it is told once ('disconnect') and then cut off.
 */
export class SocketRateLimit {
  private readonly bucket: TokenBucket;
  private windowStart: number;
  private refusedInWindow = 0;
  private cutOff = false;

  constructor(
    private readonly config: RateLimitConfig,
    now: number,
  ) {
    this.bucket = new TokenBucket(config.eventsPerSec, config.burst, now);
    this.windowStart = now;
  }

  check(now: number): RateDecision {
    if (this.cutOff) return 'refuse';
    if (this.bucket.take(now)) return 'allow';
    if (now - this.windowStart >= RATE_LIMIT_WINDOW_MS) {
      this.windowStart = now;
      this.refusedInWindow = 0;
    }
    this.refusedInWindow += 1;
    if (this.config.disconnectAfter > 0 && this.refusedInWindow > this.config.disconnectAfter) {
      this.cutOff = true;
      return 'disconnect';
    }
    return 'refuse';
  }
}

export interface RateLimitCheckOptions {
  logger?: Logger;
  /** Milliseconds; injectable for tests. */
  now?: () => number;
}

/**
 * The per-socket rate limit as an EventCheck, or undefined when the limit
 * is off (RATE_LIMIT_EVENTS_PER_SEC=0). Every event counts, known or not,
 * with or without an ack: a refused one is not handled (a refused broadcast
 * reaches no one) and gets RATE_LIMITED back. An abusive socket is
 * disconnected with "io server disconnect", after its last refusal has
 * been sent; socket.io clients do not reconnect on their own after that.
 */
export function rateLimitCheck(config: RateLimitConfig, options: RateLimitCheckOptions = {}): EventCheck | undefined {
  if (config.eventsPerSec === 0) return undefined;
  const now = options.now ?? (() => performance.now());
  const limits = new WeakMap<ReplicaSocket, SocketRateLimit>();
  const refuse = (message: string): AckError => ({ ok: false, error: { code: 'RATE_LIMITED', message } });
  const limitText = `${config.eventsPerSec} events/s, bursts of ${config.burst}`;

  return (socket, event) => {
    const at = now();
    let limit = limits.get(socket);
    if (!limit) {
      limit = new SocketRateLimit(config, at);
      limits.set(socket, limit);
    }
    const decision = limit.check(at);
    if (decision === 'allow') return undefined;
    if (decision === 'disconnect') {
      options.logger?.warn(
        { socket: socket.id, event, refusedWithin: RATE_LIMIT_WINDOW_MS, limit: config.disconnectAfter },
        'rate limit: disconnecting a flooding client',
      );
      // After the refusal below is written: disconnect() flushes what is queued.
      setImmediate(() => socket.disconnect(true));
      return refuse(`over ${config.disconnectAfter} events refused within ${RATE_LIMIT_WINDOW_MS / 1000} s; disconnecting`);
    }
    return refuse(`slow down: at most ${limitText}`);
  };
}
