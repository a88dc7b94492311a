import { type IncomingMessage, STATUS_CODES, ServerResponse } from 'node:http';
import type { HandshakeRefusal } from './handshake-guard.ts';

/**
 * Answer a refused handshake with `refusal`'s status, in the shapes
 * engine.io itself uses (build/server.js `abortRequest` / `abortUpgrade`):
 * a polling request gets `{"code","message"}` as JSON; an upgrade request
 * gets a plain HTTP answer with the message as its body, written on the raw
 * socket before any upgrade, then the socket is closed.
 *
 * Called from engine.io's `allowRequest`, whose own refusal would always be
 * 403 (polling) / 400 (WebSocket): engine.io then finds the answer already
 * sent (polling: `headersSent`; upgrade: the socket no longer writable) and
 * adds nothing. Engine.IO sets `req.res` for polling requests only.
 */
export function refuseHandshake(req: IncomingMessage, refusal: HandshakeRefusal): void {
  const res = (req as IncomingMessage & { res?: unknown }).res;
  if (res instanceof ServerResponse) {
    if (res.headersSent) return;
    res.writeHead(refusal.status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ code: refusal.code, message: refusal.message }));
    return;
  }
  const socket = req.socket;
  // A client that hangs up while the answer is written must not become an
  // unhandled 'error' (engine.io's abortUpgrade does the same).
  socket.on('error', () => undefined);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${refusal.status} ${STATUS_CODES[refusal.status]}\r\n` +
        'Connection: close\r\n' +
        'Content-type: text/html\r\n' +
        `Content-Length: ${Buffer.byteLength(refusal.message)}\r\n` +
        '\r\n' +
        refusal.message,
    );
  }
  socket.destroy();
}
