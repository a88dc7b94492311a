import { performance } from 'node:perf_hooks';
import { type ConnectOptions, openClient, type WskSocket } from '../../client/connect.ts';
import type { BroadcastMessage, RoomMessage } from '../../server/protocol.ts';
import { clientSourceAddress } from './client-address.ts';

/** A client under observation: where it is, and everything it received, counted. */
export interface PooledClient {
  index: number;
  socket: WskSocket;
  /** Replica of the most recent `welcome`. */
  replica: string;
  firstReplica: string;
  /** 1 + number of reconnections that reached a replica. */
  welcomes: number;
  disconnects: string[];
  /** Transport-level errors (e.g. HTTP 400 "Session ID unknown" on a polling request). */
  transportErrors: string[];
  /** Deliveries per probe key (payload.probe), broadcast and room alike. */
  received: Map<string, number>;
  /** First receipt time per probe key (performance.now()). */
  firstReceivedAt: Map<string, number>;
  /** Room deliveries per probe key. */
  roomReceived: Map<string, number>;
}

export interface ProbePayload {
  probe: string;
}

function probeKey(message: BroadcastMessage | RoomMessage): string | undefined {
  const payload = message.payload;
  if (typeof payload === 'object' && payload !== null && 'probe' in payload) {
    const probe = (payload as { probe: unknown }).probe;
    return typeof probe === 'string' ? probe : undefined;
  }
  return undefined;
}

function observe(index: number, socket: WskSocket, replica: string): PooledClient {
  const client: PooledClient = {
    index,
    socket,
    replica,
    firstReplica: replica,
    welcomes: 1,
    disconnects: [],
    transportErrors: [],
    received: new Map(),
    firstReceivedAt: new Map(),
    roomReceived: new Map(),
  };
  const count = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
  socket.on('welcome', (welcome) => {
    client.replica = welcome.replica;
    client.welcomes += 1;
  });
  socket.on('disconnect', (reason) => client.disconnects.push(reason));
  socket.io.on('error', (error) => client.transportErrors.push(error.message));
  socket.on('broadcast', (message) => {
    const key = probeKey(message);
    if (key === undefined) return;
    if (!client.firstReceivedAt.has(key)) client.firstReceivedAt.set(key, performance.now());
    count(client.received, key);
  });
  socket.on('room:message', (message) => {
    const key = probeKey(message);
    if (key === undefined) return;
    if (!client.firstReceivedAt.has(key)) client.firstReceivedAt.set(key, performance.now());
    count(client.received, key);
    count(client.roomReceived, key);
  });
  return client;
}

/**
 * Open `count` clients against `url` (by default each from its own /24, as
 * distinct users would be), at most `concurrency` handshakes at a
 * time (a burst of hundreds would measure the listen backlog, not the stack).
 * If any client fails, every client opened so far is closed and the error rethrown.
 */
export async function openClients(
  url: string,
  count: number,
  options: (index: number) => ConnectOptions = (index) => ({ localAddress: clientSourceAddress(index, url) }),
  { concurrency = 16, firstIndex = 0, timeoutMs = 15_000 } = {},
): Promise<PooledClient[]> {
  const clients: PooledClient[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const index = firstIndex + next++;
      const { socket, welcome } = await openClient(url, options(index), timeoutMs);
      clients.push(observe(index, socket, welcome.replica));
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  } catch (error) {
    closeClients(clients);
    throw error;
  }
  return clients.sort((a, b) => a.index - b.index);
}

export function closeClients(clients: Iterable<PooledClient>): void {
  for (const client of clients) client.socket.disconnect();
}

/** Group clients by the replica that currently serves them. */
export function byReplica(clients: Iterable<PooledClient>): Map<string, PooledClient[]> {
  const groups = new Map<string, PooledClient[]>();
  for (const client of clients) {
    const group = groups.get(client.replica) ?? [];
    group.push(client);
    groups.set(client.replica, group);
  }
  return groups;
}
