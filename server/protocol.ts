/**
 * The wire protocol between clients and replicas: event names, payload types
 * and the limits both sides enforce. The server, the client library, the
 * scenario runner and the benchmark all import this one module, so a change
 * here is a change everywhere (and the type checker finds every caller).
 */

/** Largest JSON-encoded payload a client may broadcast or send to a room. */
export const MAX_PAYLOAD_BYTES = 16 * 1024;
/**
 * Deepest nesting of arrays/objects in a payload. A few KB of `[[[[…]]]]`
 * is thousands of levels, and the recursive encoders a broadcast goes
 * through (the Redis adapters' msgpack, socket.io-parser) overflow the
 * stack on it; real messages nest a handful of levels.
 */
export const MAX_PAYLOAD_DEPTH = 32;
/** Room names: short, printable, no surprises in logs or Redis channels. */
export const ROOM_NAME_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;
/**
 * The shape of every Socket.IO socket id (15 random bytes, base64url: 20
 * characters). Each socket is alone in the room named by its id, which is
 * how a server reaches one socket; so room names of this shape are
 * reserved: no client may join, leave or emit to one (joining would read
 * another socket's private messages, emitting would forge them).
 */
export const SOCKET_ID_PATTERN = /^[A-Za-z0-9_-]{20}$/;
/** How many rooms one socket may hold besides its own id room. */
export const MAX_ROOMS_PER_SOCKET = 32;

export type TransportName = 'polling' | 'websocket' | 'webtransport';

export interface Welcome {
  replica: string;
  socket: string;
  transport: TransportName;
  /** True when connection state recovery restored this session (streams adapter). */
  recovered: boolean;
}

export interface WhoAmI {
  replica: string;
  socket: string;
  transport: TransportName;
  rooms: string[];
}

export interface Sender {
  replica: string;
  socket: string;
}

export interface BroadcastMessage {
  /** Unique per message, chosen by the replica that accepted it. */
  id: string;
  from: Sender;
  payload: unknown;
  /** Epoch milliseconds when the sending replica accepted the message. */
  sentAt: number;
}

export interface RoomMessage extends BroadcastMessage {
  room: string;
}

export interface ReplicaInfo {
  replica: string;
  clients: number;
}

export type ErrorCode =
  | 'BAD_REQUEST'
  | 'PAYLOAD_TOO_LARGE'
  | 'TOO_MANY_ROOMS'
  | 'RATE_LIMITED'
  | 'FORBIDDEN'
  | 'UNAVAILABLE';

export interface AckError {
  ok: false;
  error: { code: ErrorCode; message: string };
}

/** Every acknowledgement is either `{ ok: true, ...value }` or an `AckError`. */
export type Ack<T extends object = object> = ({ ok: true } & T) | AckError;

export interface ServerToClientEvents {
  welcome: (info: Welcome) => void;
  broadcast: (message: BroadcastMessage) => void;
  'room:message': (message: RoomMessage) => void;
  /** Sent to a client whose event was refused without an ack callback. */
  'error:event': (error: AckError['error'] & { event: string }) => void;
}

export interface ClientToServerEvents {
  whoami: (ack: (reply: Ack<WhoAmI>) => void) => void;
  broadcast: (payload: unknown, ack: (reply: Ack<{ id: string }>) => void) => void;
  join: (room: string, ack: (reply: Ack<{ rooms: string[] }>) => void) => void;
  leave: (room: string, ack: (reply: Ack<{ rooms: string[] }>) => void) => void;
  'room:emit': (room: string, payload: unknown, ack: (reply: Ack<{ id: string }>) => void) => void;
  'cluster:replicas': (ack: (reply: Ack<{ replicas: ReplicaInfo[]; complete: boolean }>) => void) => void;
}

/** Events replicas exchange among themselves through the adapter. */
export interface InterServerEvents {
  'replica:info': (reply: (info: ReplicaInfo) => void) => void;
}

/** What a replica keeps on each socket (`socket.data`); visible to fetchSockets(). */
export interface SocketData {
  replica: string;
}

export type ClientEventName = keyof ClientToServerEvents;
export const CLIENT_EVENTS: readonly ClientEventName[] = [
  'whoami',
  'broadcast',
  'join',
  'leave',
  'room:emit',
  'cluster:replicas',
];

export function isAckError(reply: Ack<object>): reply is AckError {
  return reply.ok === false;
}

/** Byte length of a payload as it travels (JSON); undefined if it cannot be encoded. */
export function payloadBytes(payload: unknown): number | undefined {
  try {
    const text = JSON.stringify(payload);
    return text === undefined ? undefined : Buffer.byteLength(text);
  } catch {
    return undefined;
  }
}

export type Validation<T> = { ok: true; value: T } | AckError;

function refuse(code: ErrorCode, message: string): AckError {
  return { ok: false, error: { code, message } };
}

/** True when `value` nests arrays/objects deeper than `limit`; iterative, so any depth is safe to ask about. */
export function nestsDeeperThan(value: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (typeof item !== 'object' || item === null) continue;
    if (depth + 1 > limit) return true;
    for (const child of Object.values(item)) stack.push([child, depth + 1]);
  }
  return false;
}

export function validatePayload(payload: unknown): Validation<unknown> {
  if (payload === undefined || typeof payload === 'function') {
    return refuse('BAD_REQUEST', 'payload is required and must be JSON');
  }
  if (nestsDeeperThan(payload, MAX_PAYLOAD_DEPTH)) {
    return refuse('BAD_REQUEST', `payload nests deeper than ${MAX_PAYLOAD_DEPTH} levels`);
  }
  const size = payloadBytes(payload);
  if (size === undefined) return refuse('BAD_REQUEST', 'payload must be JSON-encodable');
  if (size > MAX_PAYLOAD_BYTES) {
    return refuse('PAYLOAD_TOO_LARGE', `payload is ${size} bytes; the limit is ${MAX_PAYLOAD_BYTES}`);
  }
  return { ok: true, value: payload };
}

export function validateRoom(room: unknown): Validation<string> {
  if (typeof room === 'string' && SOCKET_ID_PATTERN.test(room)) {
    return refuse('FORBIDDEN', 'room names of 20 letters, digits, - or _ are reserved: that is the shape of a socket id');
  }
  if (typeof room !== 'string' || !ROOM_NAME_PATTERN.test(room)) {
    return refuse('BAD_REQUEST', `room must be a string matching ${ROOM_NAME_PATTERN}`);
  }
  return { ok: true, value: room };
}

/** `GET /healthz`: answered while the process is alive, draining or not. */
export interface HealthReply {
  status: 'ok';
  replica: string;
}

/** State of one of the replica's Redis connections, as `/readyz` reports it. */
/** `unresponsive`: connected, but a PING went unanswered for REDIS_PING_TIMEOUT_MS (a partition, a hung server). */
export type RedisConnectionState = 'connecting' | 'ready' | 'reconnecting' | 'unresponsive' | 'closed';

/**
 * `GET /readyz`: 200 with `status: 'ready'` only while every Redis connection
 * is ready and the replica is not draining; otherwise 503 with a reason, so a
 * proxy's health check takes the replica out of rotation.
 */
export interface ReadyReply {
  status: 'ready' | 'unavailable';
  replica: string;
  /** Why the replica is unavailable; absent when ready. */
  reason?: string;
  draining: boolean;
  redis: Record<string, RedisConnectionState>;
}
