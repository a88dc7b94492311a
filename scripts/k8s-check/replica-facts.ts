import { DEFAULTS } from '../../server/config.ts';
import { healthRoutes } from '../../server/health.ts';
import type { ReplicaFacts } from './manifest-rules.ts';

/**
 * The replica's facts taken from its own code, so a renamed endpoint or a
 * changed default breaks `make check` instead of the cluster: the health
 * routes the app registers, plus /metrics (server/metrics.ts, added by
 * main.ts), and the config defaults.
 */
export function replicaFacts(): ReplicaFacts {
  const health = Object.keys(healthRoutes('check', () => ({ status: 'ready', replica: 'check', draining: false, redis: {} })));
  return {
    servedPaths: new Set([...health, METRICS_PATH]),
    defaults: { PORT: DEFAULTS.PORT, DRAIN_DELAY_MS: DEFAULTS.DRAIN_DELAY_MS, SHUTDOWN_TIMEOUT_MS: DEFAULTS.SHUTDOWN_TIMEOUT_MS },
  };
}

/** server/metrics.ts serves its registry here (its `routes` key). */
export const METRICS_PATH = '/metrics';
