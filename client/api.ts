import type {
  Ack,
  AckError,
  ReplicaInfo,
  WhoAmI,
} from '../server/protocol.ts';
import type { WskSocket } from './connect.ts';

/** An acknowledgement that came back `{ ok: false }`. */
export class AckRefusedError extends Error {
  readonly code: AckError['error']['code'];
  constructor(
    readonly event: string,
    error: AckError['error'],
  ) {
    super(`${event} refused: ${error.code}: ${error.message}`);
    this.name = 'AckRefusedError';
    this.code = error.code;
  }
}

export const DEFAULT_ACK_TIMEOUT_MS = 5000;

function unwrap<T extends object>(event: string, reply: Ack<T>): T {
  if (reply.ok) return reply;
  throw new AckRefusedError(event, reply.error);
}

// Each helper waits for the replica's ack with a timeout (socket.io rejects
// the promise on timeout) and turns an error ack into a thrown AckRefusedError.

export async function whoami(socket: WskSocket, timeoutMs = DEFAULT_ACK_TIMEOUT_MS): Promise<WhoAmI> {
  return unwrap('whoami', await socket.timeout(timeoutMs).emitWithAck('whoami'));
}

export async function broadcast(
  socket: WskSocket,
  payload: unknown,
  timeoutMs = DEFAULT_ACK_TIMEOUT_MS,
): Promise<{ id: string }> {
  return unwrap('broadcast', await socket.timeout(timeoutMs).emitWithAck('broadcast', payload));
}

export async function join(socket: WskSocket, room: string, timeoutMs = DEFAULT_ACK_TIMEOUT_MS): Promise<string[]> {
  return unwrap('join', await socket.timeout(timeoutMs).emitWithAck('join', room)).rooms;
}

export async function leave(socket: WskSocket, room: string, timeoutMs = DEFAULT_ACK_TIMEOUT_MS): Promise<string[]> {
  return unwrap('leave', await socket.timeout(timeoutMs).emitWithAck('leave', room)).rooms;
}

export async function roomEmit(
  socket: WskSocket,
  room: string,
  payload: unknown,
  timeoutMs = DEFAULT_ACK_TIMEOUT_MS,
): Promise<{ id: string }> {
  return unwrap('room:emit', await socket.timeout(timeoutMs).emitWithAck('room:emit', room, payload));
}

export async function clusterReplicas(
  socket: WskSocket,
  timeoutMs = DEFAULT_ACK_TIMEOUT_MS,
): Promise<{ replicas: ReplicaInfo[]; complete: boolean }> {
  return unwrap('cluster:replicas', await socket.timeout(timeoutMs).emitWithAck('cluster:replicas'));
}
