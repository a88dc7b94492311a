import { randomUUID } from 'node:crypto';
import { collectReplicas } from './cluster-replicas.ts';
import type { EventCheck } from './event-check.ts';
import type { Logger } from './logger.ts';
import {
  type Ack,
  type AckError,
  type BroadcastMessage,
  CLIENT_EVENTS,
  type ClientEventName,
  type ErrorCode,
  MAX_ROOMS_PER_SOCKET,
  type ReplicaInfo,
  type TransportName,
  type WhoAmI,
  validatePayload,
  validateRoom,
} from './protocol.ts';
import type { ReplicaServer, ReplicaSocket } from './socket-types.ts';

export interface HandlerContext {
  replica: string;
  logger: Logger;
  /** Bound on `cluster:replicas` (see collectReplicas). */
  clusterTimeoutMs: number;
  /** Run before every event's handler, in order (rate limit, authorization). */
  eventChecks?: readonly EventCheck[];
}

/**
 * One client event: gets the arguments (ack callback already removed) and
 * returns the reply. It may throw; the dispatcher turns that into an error
 * reply. This table is the one place to add checks that apply to every
 * event (rate limits, authorization, metrics).
 */
type Handler = (socket: ReplicaSocket, args: readonly unknown[]) => Ack<object> | Promise<Ack<object>>;

function refuse(code: ErrorCode, message: string): AckError {
  return { ok: false, error: { code, message } };
}

function roomsOf(socket: ReplicaSocket): string[] {
  return [...socket.rooms].filter((room) => room !== socket.id);
}

function transportOf(socket: ReplicaSocket): TransportName {
  return socket.conn.transport.name as TransportName;
}

function createHandlers(io: ReplicaServer, context: HandlerContext): Record<ClientEventName, Handler> {
  const { replica } = context;
  const self = (): ReplicaInfo => ({ replica, clients: io.of('/').sockets.size });

  const message = (socket: ReplicaSocket, payload: unknown): BroadcastMessage => ({
    id: randomUUID(),
    from: { replica, socket: socket.id },
    payload,
    sentAt: Date.now(),
  });

  return {
    whoami: (socket): Ack<WhoAmI> => ({
      ok: true,
      replica,
      socket: socket.id,
      transport: transportOf(socket),
      rooms: roomsOf(socket),
    }),

    broadcast: (socket, [payload]): Ack<{ id: string }> => {
      const valid = validatePayload(payload);
      if (!valid.ok) return valid;
      const out = message(socket, valid.value);
      io.emit('broadcast', out);
      return { ok: true, id: out.id };
    },

    join: async (socket, [room]): Promise<Ack<{ rooms: string[] }>> => {
      const valid = validateRoom(room);
      if (!valid.ok) return valid;
      if (!socket.rooms.has(valid.value)) {
        if (socket.rooms.size - 1 >= MAX_ROOMS_PER_SOCKET) {
          return refuse('TOO_MANY_ROOMS', `a socket may be in at most ${MAX_ROOMS_PER_SOCKET} rooms`);
        }
        await socket.join(valid.value);
      }
      return { ok: true, rooms: roomsOf(socket) };
    },

    leave: async (socket, [room]): Promise<Ack<{ rooms: string[] }>> => {
      const valid = validateRoom(room);
      if (!valid.ok) return valid;
      // Its own id room is how Socket.IO reaches this one socket.
      if (valid.value === socket.id) return refuse('FORBIDDEN', 'a socket cannot leave its own room');
      await socket.leave(valid.value);
      return { ok: true, rooms: roomsOf(socket) };
    },

    'room:emit': (socket, [room, payload]): Ack<{ id: string }> => {
      const validRoom = validateRoom(room);
      if (!validRoom.ok) return validRoom;
      const valid = validatePayload(payload);
      if (!valid.ok) return valid;
      const out = { ...message(socket, valid.value), room: validRoom.value };
      io.to(validRoom.value).emit('room:message', out);
      return { ok: true, id: out.id };
    },

    'cluster:replicas': async () => ({ ok: true, ...(await collectReplicas(io, self, context.clusterTimeoutMs)) }),
  };
}

const KNOWN_EVENTS: ReadonlySet<string> = new Set(CLIENT_EVENTS);

/**
 * Wire the protocol onto `io`: `welcome` on connect, one listener per client
 * event, an error reply for unknown events, and this replica's answer to
 * `replica:info`. Handlers never throw into Socket.IO and never assume the
 * client asked for an ack: without one, a refusal goes out as `error:event`.
 */
export function registerHandlers(io: ReplicaServer, context: HandlerContext): void {
  const { replica, logger } = context;
  const handlers = createHandlers(io, context);
  const checks = context.eventChecks ?? [];
  const refusedByChecks = (socket: ReplicaSocket, event: string, args: readonly unknown[]): AckError | undefined => {
    for (const check of checks) {
      const refusal = check(socket, event, args);
      if (refusal) return refusal;
    }
    return undefined;
  };

  io.on('replica:info', (reply) => {
    if (typeof reply === 'function') reply({ replica, clients: io.of('/').sockets.size });
  });

  io.on('connection', (socket) => {
    socket.data.replica = replica;
    logger.debug({ socket: socket.id, transport: transportOf(socket), recovered: socket.recovered }, 'client connected');
    socket.emit('welcome', {
      replica,
      socket: socket.id,
      transport: transportOf(socket),
      recovered: socket.recovered,
    });

    const dispatch = async (event: string, received: readonly unknown[]): Promise<void> => {
      const args = [...received];
      const ack = typeof args.at(-1) === 'function' ? (args.pop() as (reply: Ack<object>) => void) : undefined;
      let reply: Ack<object>;
      const handler = KNOWN_EVENTS.has(event) ? handlers[event as ClientEventName] : undefined;
      const refusal = refusedByChecks(socket, event, args);
      if (refusal) {
        reply = refusal;
      } else if (!handler) {
        reply = refuse('BAD_REQUEST', `unknown event ${JSON.stringify(event)}`);
      } else {
        try {
          reply = await handler(socket, args);
        } catch (error) {
          logger.error({ err: error, event, socket: socket.id }, 'handler failed');
          reply = refuse('UNAVAILABLE', 'the replica could not complete the request');
        }
      }
      if (ack) ack(reply);
      else if (!reply.ok) socket.emit('error:event', { ...reply.error, event });
      if (!reply.ok) logger.debug({ event, socket: socket.id, error: reply.error }, 'event refused');
    };

    const run = (event: string, args: readonly unknown[]) => {
      dispatch(event, args).catch((error: unknown) => {
        logger.error({ err: error, event, socket: socket.id }, 'could not reply');
      });
    };
    for (const event of CLIENT_EVENTS) {
      socket.on(event, (...args: unknown[]) => run(event, args));
    }
    socket.onAny((event: unknown, ...args: unknown[]) => {
      if (typeof event !== 'string' || !KNOWN_EVENTS.has(event)) run(String(event), args);
    });
    socket.on('disconnect', (reason) => {
      logger.debug({ socket: socket.id, reason }, 'client disconnected');
    });
  });
}
