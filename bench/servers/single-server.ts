/**
 * The single-node baseline: the replica as server/main.ts starts it (same
 * config, same createApp, same handlers, Socket.IO options and Prometheus
 * metrics) except that the Redis adapter is replaced by Socket.IO's
 * in-memory one. One process, no proxy, no Redis: what the app costs "on one
 * server". /readyz stays 503 (no Redis connection); /healthz answers, and
 * /bench/memory answers process.memoryUsage() after a full garbage
 * collection (the bench starts this with --expose-gc).
 *
 * BENCH_METRICS=false leaves the metrics out (a bench-only switch, to show
 * what counting every delivery costs; the replica always has them).
 */
import { createApp } from '../../server/app.ts';
import { ConfigError, loadConfig } from '../../server/config.ts';
import { sendJson } from '../../server/http-router.ts';
import { createMetrics } from '../../server/metrics.ts';

const gc = (globalThis as { gc?: () => void }).gc;

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig({ REPLICA_ID: 'single', ...process.env });
} catch (error) {
  process.stderr.write(`${error instanceof ConfigError ? error.message : String(error)}\n`);
  process.exit(2);
}
const metrics = process.env.BENCH_METRICS === 'false' ? undefined : createMetrics({ replica: config.replicaId });
const app = await createApp(config, {
  inMemoryAdapter: true,
  routes: {
    ...metrics?.routes,
    '/bench/memory': (_req, res) => {
      gc?.();
      sendJson(res, 200, { ...process.memoryUsage(), collected: gc !== undefined });
    },
  },
});
metrics?.attach(app);
process.stdout.write(`single listening on ${app.address().host}:${app.address().port}\n`);

const stop = () => {
  const bound = setTimeout(() => process.exit(1), 3000);
  bound.unref();
  app.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
