/**
 * The replica's entry point and the only module that touches `process`:
 * environment, signals, exit codes.
 *
 * Exit codes: 0 after a clean shutdown; 1 when the shutdown overran
 * SHUTDOWN_TIMEOUT_MS, on a second signal, or when the replica cannot start;
 * 2 on invalid configuration (nothing was started).
 */
import { createApp } from './app.ts';
import { ConfigError, type Config, describeConfig, loadConfig } from './config.ts';
import { createLogger } from './logger.ts';
import { createMetrics } from './metrics.ts';
import { staticRoutes } from './static-routes.ts';

function readConfig(): Config {
  try {
    return loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}

async function main(): Promise<void> {
  const config = readConfig();
  const logger = createLogger({ level: config.logLevel, replica: config.replicaId });

  // The Redis adapters drop some promises; a rejection there (a command cut
  // by a Redis restart) must cost a log line, not the replica.
  process.on('unhandledRejection', (reason) => {
    logger.error({ err: reason }, 'unhandled rejection (still running)');
  });
  process.on('uncaughtException', (error) => {
    logger.fatal({ err: error }, 'uncaught exception');
    process.exit(1);
  });

  const metrics = createMetrics({ replica: config.replicaId });
  let app: Awaited<ReturnType<typeof createApp>>;
  try {
    app = await createApp(config, {
      logger,
      routes: { ...staticRoutes(), ...metrics.routes },
      onRedisCommandError: metrics.onRedisCommandError,
      // Stuck not ready for ever otherwise, with /healthz still fine: exit so
      // Compose, Swarm or the kubelet start the replica again.
      onRedisGaveUp: (connection) => {
        logger.fatal({ redis: connection }, 'redis: the first connection gave up (no sentinel answered); exiting so the replica is restarted');
        process.exit(1);
      },
    });
    metrics.attach(app);
  } catch (error) {
    logger.fatal({ err: error, host: config.host, port: config.port }, 'cannot start');
    process.exit(1);
  }
  logger.info({ ...app.address(), adapter: config.adapter, config: describeConfig(config) }, 'listening');

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal, timeoutMs: config.shutdownTimeoutMs }, 'shutting down');
    const overrun = setTimeout(() => {
      logger.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown exceeded SHUTDOWN_TIMEOUT_MS');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    app
      .drain()
      .then(() => app.close())
      .then(
        () => {
          clearTimeout(overrun);
          logger.info('shutdown complete');
          process.exit(0);
        },
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

await main();
