/**
 * The floor: the least a WebSocket fan-out server can do on this machine. A
 * bare `ws` server (bufferutil loaded when installed, no compression) that
 * sends every text message it receives to every connected client, the
 * sender included, as the replica does with `broadcast`. No Engine.IO
 * framing, no JSON, no envelope, no adapter. HOST / PORT from the
 * environment; `GET /healthz` answers 200.
 */
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';

const host = process.env.HOST ?? '127.0.0.1';
const port = Number(process.env.PORT ?? '0');

const http = createServer((req, res) => {
  res.writeHead(req.url === '/healthz' ? 200 : 404, { 'content-type': 'text/plain' }).end(req.url === '/healthz' ? 'ok\n' : '');
});
const wss = new WebSocketServer({ server: http, perMessageDeflate: false, maxPayload: 1024 * 1024 });
wss.on('connection', (socket) => {
  socket.on('message', (data, isBinary) => {
    for (const client of wss.clients) {
      if (client.readyState === client.OPEN) client.send(data, { binary: isBinary });
    }
  });
  socket.on('error', () => socket.terminate());
});

http.listen({ host, port }, () => {
  process.stdout.write(`floor listening on ${host}:${port}\n`);
});

const stop = () => {
  for (const client of wss.clients) client.terminate();
  wss.close();
  http.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
