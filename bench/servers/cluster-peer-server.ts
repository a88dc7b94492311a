/**
 * The peer users pick instead of a proxy + Redis: Socket.IO's own
 * one-machine scale-out. Node's `cluster` primary accepts every TCP
 * connection, reads its first request and hands the socket's handle to a
 * worker (@socket.io/sticky: long-polling requests of one session go to the
 * worker holding it, new ones to the least loaded); after that the worker
 * owns the socket and no frame passes the primary. Workers exchange
 * broadcasts over the primary's IPC channel (@socket.io/cluster-adapter).
 *
 * Each worker is the replica (server/app.ts createApp: same config,
 * handlers, Socket.IO options and Prometheus metrics) with the cluster
 * adapter instead of Redis. HOST / PORT are the primary's; WORKERS (2) the
 * number of workers. The primary prints `peer worker <id> pid <pid>` for
 * each worker once it serves, so the bench can watch each one.
 */
import cluster from 'node:cluster';
import { createServer } from 'node:http';
import { createAdapter, setupPrimary } from '@socket.io/cluster-adapter';
import { setupMaster, setupWorker } from '@socket.io/sticky';
import { createApp } from '../../server/app.ts';
import { ConfigError, loadConfig } from '../../server/config.ts';
import { createMetrics } from '../../server/metrics.ts';

const WORKERS = Number(process.env.WORKERS ?? '2');

if (cluster.isPrimary) {
  const host = process.env.HOST ?? '127.0.0.1';
  const port = Number(process.env.PORT ?? '0');
  const http = createServer();
  // Round-robin, not least-connection: sticky's connection counts arrive
  // from the workers asynchronously, so a burst of new connections (the
  // bench opens its clients in one) all went to the first worker in a CI
  // run. Round-robin splits a burst evenly, which is what a fair peer needs.
  setupMaster(http, { loadBalancingMethod: 'round-robin' });
  setupPrimary();
  // The cluster adapter's packets carry Buffers; the advanced serializer keeps them.
  cluster.setupPrimary({ serialization: 'advanced' });
  let stopping = false;
  for (let i = 1; i <= WORKERS; i++) {
    const worker = cluster.fork({ REPLICA_ID: `peer-${i}` });
    worker.on('message', (message: unknown) => {
      if (typeof message === 'object' && message !== null && (message as { peer?: unknown }).peer === 'ready') {
        process.stdout.write(`peer worker peer-${i} pid ${worker.process.pid}\n`);
      }
    });
  }
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    // No restart: a bench target whose worker died is a failed target.
    process.stderr.write(`peer worker ${worker.id} exited (${signal ?? code}); stopping\n`);
    process.exit(1);
  });
  http.listen({ host, port }, () => process.stdout.write(`peer primary listening on ${host}:${port}\n`));
  const stop = () => {
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    setTimeout(() => process.exit(0), 1500).unref();
    cluster.on('exit', () => {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
    });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  let config: ReturnType<typeof loadConfig>;
  try {
    // The worker's own listener is never used (the primary hands it connections); port 0 keeps it out of the way.
    config = loadConfig({ ...process.env, PORT: '0', HOST: '127.0.0.1' });
  } catch (error) {
    process.stderr.write(`${error instanceof ConfigError ? error.message : String(error)}\n`);
    process.exit(2);
  }
  const metrics = createMetrics({ replica: config.replicaId });
  const app = await createApp(config, { adapter: createAdapter(), routes: metrics.routes });
  metrics.attach(app);
  setupWorker(app.io);
  process.send?.({ peer: 'ready' });
  const stop = () => {
    const bound = setTimeout(() => process.exit(1), 3000);
    bound.unref();
    app.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', () => undefined);
}
