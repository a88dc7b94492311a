import type { Server, Socket } from 'socket.io';
import type { ClientToServerEvents, InterServerEvents, ServerToClientEvents, SocketData } from './protocol.ts';

/** The Socket.IO server and socket, typed with the wire protocol's event maps. */
export type ReplicaServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
export type ReplicaSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
