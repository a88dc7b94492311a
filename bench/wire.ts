/**
 * The few Engine.IO v4 / Socket.IO v5 frames the load generator speaks over a
 * bare WebSocket, and the probe payload it sends. socket.io-client costs
 * far more CPU and memory per connection than the server does; a generator
 * built on it would measure itself. This speaks the same frames a real
 * WebSocket-transport client sends (`40`, `42[...]`, `3` for pong), nothing
 * more. Pure functions: tested with literals.
 */

/** Where a Socket.IO client opens its WebSocket: `/socket.io/?EIO=4&transport=websocket`. */
export function socketIoWebSocketUrl(baseUrl: string, path = '/socket.io/'): string {
  const url = new URL(path, baseUrl);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.search = '?EIO=4&transport=websocket';
  return url.toString();
}

/** The raw floor server takes a plain WebSocket at `/`. */
export function rawWebSocketUrl(baseUrl: string): string {
  const url = new URL('/', baseUrl);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}

export type Frame =
  | { kind: 'open'; sid: string; pingInterval: number; pingTimeout: number }
  | { kind: 'close' }
  | { kind: 'ping' }
  | { kind: 'noop' }
  | { kind: 'connect'; sid: string }
  | { kind: 'connect_error'; message: string }
  | { kind: 'disconnect' }
  | { kind: 'event'; name: string; args: unknown[] }
  | { kind: 'ack'; id: number; args: unknown[] }
  | { kind: 'unknown'; text: string };

/** Decode one text frame from a Socket.IO server (no binary attachments). */
export function decodeFrame(text: string): Frame {
  switch (text[0]) {
    case '0': {
      const open = JSON.parse(text.slice(1)) as { sid: string; pingInterval: number; pingTimeout: number };
      return { kind: 'open', sid: open.sid, pingInterval: open.pingInterval, pingTimeout: open.pingTimeout };
    }
    case '1':
      return { kind: 'close' };
    case '2':
      return { kind: 'ping' };
    case '6':
      return { kind: 'noop' };
    case '4':
      return decodeSocketIoPacket(text.slice(1));
    default:
      return { kind: 'unknown', text };
  }
}

function decodeSocketIoPacket(text: string): Frame {
  const type = text[0];
  // Only the main namespace: a namespace would show up as "/name," here.
  let rest = text.slice(1);
  if (type === '0') {
    const body = rest === '' ? {} : (JSON.parse(rest) as { sid?: string });
    return { kind: 'connect', sid: body.sid ?? '' };
  }
  if (type === '1') return { kind: 'disconnect' };
  if (type === '4') {
    const body = JSON.parse(rest) as { message?: string };
    return { kind: 'connect_error', message: body.message ?? rest };
  }
  if (type === '2' || type === '3') {
    const bracket = rest.indexOf('[');
    if (bracket < 0) return { kind: 'unknown', text: `4${text}` };
    const id = bracket === 0 ? undefined : Number(rest.slice(0, bracket));
    rest = rest.slice(bracket);
    const args = JSON.parse(rest) as unknown[];
    if (type === '3') return { kind: 'ack', id: id ?? -1, args };
    const [name, ...eventArgs] = args;
    return { kind: 'event', name: String(name), args: eventArgs };
  }
  return { kind: 'unknown', text: `4${text}` };
}

/** Engine.IO pong, the answer to the server's ping ("2"). */
export const PONG = '3';
/** Socket.IO CONNECT to the main namespace. */
export const CONNECT = '40';

/** An EVENT packet, with an ack id when `ackId` is given: `42["name",...args]` / `427["name",...]`. */
export function encodeEvent(name: string, args: readonly unknown[], ackId?: number): string {
  return `42${ackId === undefined ? '' : ackId}${JSON.stringify([name, ...args])}`;
}

/**
 * An EVENT whose last argument is already-encoded JSON, so a pre-built probe
 * payload is not parsed and re-stringified on every send.
 */
export function encodeEventRaw(name: string, leading: readonly unknown[], rawJson: string): string {
  const head = JSON.stringify([name, ...leading]);
  return `42${head.slice(0, -1)},${rawJson}]`;
}

/**
 * The probe payload: `{"t":<send time, µs of the monotonic clock>,"m":<1 if
 * measured, 0 in warm-up>,"p":"xxx…"}`, padded so the JSON is `size` bytes.
 * The monotonic clock is system-wide on Linux, so every generator process
 * can subtract a sender's `t` from its own clock.
 */
export function probePayload(sentAtUs: number, measured: boolean, size: number): string {
  const head = `{"t":${Math.round(sentAtUs)},"m":${measured ? 1 : 0},"p":"`;
  const tail = '"}';
  const pad = Math.max(0, size - head.length - tail.length);
  return `${head}${'x'.repeat(pad)}${tail}`;
}

/**
 * Find the probe inside any frame that carries one (the server's envelope
 * `{"id":…,"from":…,"payload":{"t":…,"m":…},…}` or the bare probe of the raw
 * floor server) without parsing the whole message: `"t":` occurs nowhere
 * else in the envelope. Undefined when the text holds no probe.
 */
export function findProbe(text: string): { t: number; measured: boolean } | undefined {
  const at = text.indexOf('"t":');
  if (at < 0) return undefined;
  let end = at + 4;
  while (end < text.length) {
    const code = text.charCodeAt(end);
    if (code < 48 || code > 57) break;
    end += 1;
  }
  if (end === at + 4) return undefined;
  const t = Number(text.slice(at + 4, end));
  const measured = text.startsWith(',"m":1', end);
  return { t, measured };
}
