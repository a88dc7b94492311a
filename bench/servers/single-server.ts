/**
 * The single-node baseline: the replica exactly as server/main.ts starts it
 * (same config, same createApp, same handlers and Socket.IO options) except
 * that the Redis adapter is replaced by Socket.IO's in-memory one. One
 * process, no proxy, no Redis: what the app costs "on one server". /readyz
 * stays 503 (no Redis connection); /healthz answers.
 */
import { createApp } from '../../server/app.ts';
import { ConfigError, loadConfig } from '../../server/config.ts';

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig({ REPLICA_ID: 'single', ...process.env });
} catch (error) {
  process.stderr.write(`${error instanceof ConfigError ? error.message : String(error)}\n`);
  process.exit(2);
}
const app = await createApp(config, { inMemoryAdapter: true });
process.stdout.write(`single listening on ${app.address().host}:${app.address().port}\n`);

const stop = () => {
  const bound = setTimeout(() => process.exit(1), 3000);
  bound.unref();
  app.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
