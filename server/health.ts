import { type Routes, sendJson } from './http-router.ts';
import type { HealthReply, ReadyReply, RedisConnectionState } from './protocol.ts';

/** `running` until a drain starts; `closed` once close() has begun. */
export type AppPhase = 'running' | 'draining' | 'closed';

export interface ReadinessInput {
  replica: string;
  phase: AppPhase;
  redis: Readonly<Record<string, RedisConnectionState>>;
}

/** Ready only while running and every Redis connection is ready; otherwise why not. */
export function computeReadiness({ replica, phase, redis }: ReadinessInput): ReadyReply {
  const draining = phase !== 'running';
  const base = { replica, draining, redis: { ...redis } };
  if (phase === 'closed') return { status: 'unavailable', reason: 'closed', ...base };
  if (phase === 'draining') return { status: 'unavailable', reason: 'draining', ...base };
  const names = Object.keys(redis);
  if (names.length === 0) return { status: 'unavailable', reason: 'no redis connection', ...base };
  const down = names.filter((name) => redis[name] !== 'ready');
  if (down.length > 0) {
    return {
      status: 'unavailable',
      reason: `redis not ready: ${down.map((name) => `${name} ${redis[name]}`).join(', ')}`,
      ...base,
    };
  }
  return { status: 'ready', ...base };
}

/**
 * `/healthz` answers 200 while the process can answer at all (liveness: a
 * failing one means restart me). `/readyz` answers 200 only while this
 * replica should receive new clients (readiness: a failing one means route
 * around me). Any method is accepted: HAProxy's `option httpchk` sends
 * OPTIONS unless told otherwise.
 */
export function healthRoutes(replica: string, readiness: () => ReadyReply): Routes {
  return {
    '/healthz': (_req, res) => sendJson(res, 200, { status: 'ok', replica } satisfies HealthReply),
    '/readyz': (_req, res) => {
      const reply = readiness();
      sendJson(res, reply.status === 'ready' ? 200 : 503, reply);
    },
  };
}
