/**
 * The relay floor: the least a proxy hop costs on this machine. A plain TCP
 * relay (Node `net`, one upstream connection per client connection, bytes
 * piped both ways, nothing parsed). HOST / PORT where it listens, UPSTREAM
 * (`host:port`) where it relays to.
 */
import { connect, createServer, type Socket } from 'node:net';

const host = process.env.HOST ?? '127.0.0.1';
const port = Number(process.env.PORT ?? '0');
const [upstreamHost, upstreamPort] = (process.env.UPSTREAM ?? '').split(':');
if (!upstreamHost || !upstreamPort) {
  process.stderr.write('UPSTREAM=host:port is required\n');
  process.exit(2);
}

const open = new Set<Socket>();
const server = createServer((client) => {
  const upstream = connect({ host: upstreamHost, port: Number(upstreamPort) });
  // No Nagle on either side: a proxy that coalesces small frames would look cheaper than it is and add latency.
  client.setNoDelay(true);
  upstream.setNoDelay(true);
  for (const socket of [client, upstream]) {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  }
  client.pipe(upstream);
  upstream.pipe(client);
  const end = () => {
    client.destroy();
    upstream.destroy();
  };
  client.once('error', end);
  upstream.once('error', end);
  client.once('close', end);
  upstream.once('close', end);
});
server.listen({ host, port }, () => process.stdout.write(`relay listening on ${host}:${port} → ${upstreamHost}:${upstreamPort}\n`));

const stop = () => {
  for (const socket of open) socket.destroy();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
