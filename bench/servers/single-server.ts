/**
 * The single-node baseline: the replica exactly as server/main.ts starts it
 * (same config, same createApp, same handlers and Socket.IO options) except
 * that the Redis adapter is replaced by Socket.IO's in-memory one. One
 * process, no proxy, no Redis: what the app costs "on one server". /readyz
 * stays 503 (no Redis connection); /healthz answers, and /bench/memory
 * answers process.memoryUsage() after a full garbage collection.
 */
import { createApp } from '../../server/app.ts';
import { ConfigError, loadConfig } from '../../server/config.ts';
import { sendJson } from '../../server/http-router.ts';

/** Started with --expose-gc by the bench: memory after a full collection, for exact bytes per connection. */
const gc = (globalThis as { gc?: () => void }).gc;

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig({ REPLICA_ID: 'single', ...process.env });
} catch (error) {
  process.stderr.write(`${error instanceof ConfigError ? error.message : String(error)}\n`);
  process.exit(2);
}
const app = await createApp(config, {
  inMemoryAdapter: true,
  routes: {
    '/bench/memory': (_req, res) => {
      gc?.();
      sendJson(res, 200, { ...process.memoryUsage(), collected: gc !== undefined });
    },
  },
});
process.stdout.write(`single listening on ${app.address().host}:${app.address().port}\n`);

const stop = () => {
  const bound = setTimeout(() => process.exit(1), 3000);
  bound.unref();
  app.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
