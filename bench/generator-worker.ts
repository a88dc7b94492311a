/**
 * A load-generator process: holds its share of the clients, sends its share
 * of the load on a schedule, and records the delivery latency of every probe
 * its clients receive in an HDR histogram. Driven by the runner over IPC
 * (see generator-protocol.ts); exits by itself when the runner goes away.
 */
import type { Agent } from 'node:http';
import { performance } from 'node:perf_hooks';
import { createClient, type WskSocket } from '../client/connect.ts';
import { clientSourceAddress } from '../scenarios/lib/client-address.ts';
import { BenchConnection, nowUs } from './bench-connection.ts';
import {
  type ClientSpec,
  type Command,
  type ConnectResult,
  type CountsResult,
  type JoinResult,
  type LoadResult,
  type Reply,
  roomFor,
  type StormResult,
} from './generator-protocol.ts';
import { encodeHistogram, newHistogram, recordUs } from './histogram.ts';
import { probePayload } from './wire.ts';

if (!process.send) {
  process.stderr.write('generator-worker must be started by the bench runner (IPC channel missing)\n');
  process.exit(2);
}

const clients: BenchConnection[] = [];
/** Real socket.io-client sockets held idle (connect mode `socket.io-client`). */
const heavy: WskSocket[] = [];
const indexOf = new Map<BenchConnection, number>();
let latency = newHistogram();
let measured = 0;
let warmup = 0;
let disconnects = 0;

function onProbe(sentAtUs: number, isMeasured: boolean): void {
  if (isMeasured) {
    measured += 1;
    recordUs(latency, nowUs() - sentAtUs);
  } else {
    warmup += 1;
  }
}

function remember(errors: string[], error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  if (errors.length < 5 && !errors.includes(message)) errors.push(message);
}

async function connect(command: Extract<Command, { op: 'connect' }>): Promise<ConnectResult> {
  const started = performance.now();
  const errors: string[] = [];
  let failed = 0;
  let next = 0;
  const queue: ClientSpec[] = command.clients;
  const batch: BenchConnection[] = [];
  const heavyReplicas: Record<string, number> = {};
  let heavyConnected = 0;
  const one = async () => {
    while (next < queue.length) {
      const spec = queue[next++]!;
      if (command.mode === 'socket.io-client') {
        try {
          const replica = await openUpgraded(spec, command.timeoutMs);
          heavyReplicas[replica] = (heavyReplicas[replica] ?? 0) + 1;
          heavyConnected += 1;
        } catch (error) {
          failed += 1;
          remember(errors, error);
        }
        continue;
      }
      const connection = new BenchConnection({
        url: spec.url,
        mode: command.mode,
        ...(spec.localAddress ? { localAddress: spec.localAddress } : {}),
        onProbe,
        onClose: () => {
          disconnects += 1;
        },
      });
      try {
        await connection.open(command.timeoutMs);
        clients.push(connection);
        batch.push(connection);
        indexOf.set(connection, spec.index);
      } catch (error) {
        failed += 1;
        remember(errors, error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(command.concurrency, queue.length)) }, one));
  const replicas: Record<string, number> = {};
  for (const client of batch) replicas[client.replica] = (replicas[client.replica] ?? 0) + 1;
  for (const [replica, count] of Object.entries(heavyReplicas)) replicas[replica] = (replicas[replica] ?? 0) + count;
  return { connected: batch.length + heavyConnected, failed, errors, replicas, elapsedMs: Math.round(performance.now() - started) };
}

/** A real client with the default transports: resolves with its replica once welcomed and upgraded to WebSocket. */
function openUpgraded(spec: ClientSpec, timeoutMs: number): Promise<string> {
  const socket = createClient(spec.url, { ...(spec.localAddress ? { localAddress: spec.localAddress } : {}), reconnection: false });
  return new Promise<string>((resolve, reject) => {
    let replica: string | undefined;
    let upgraded = false;
    const timer = setTimeout(() => {
      socket.disconnect();
      reject(new Error(`no welcome + upgrade within ${timeoutMs} ms`));
    }, timeoutMs);
    const finish = () => {
      if (replica === undefined || !upgraded) return;
      clearTimeout(timer);
      heavy.push(socket);
      socket.on('disconnect', () => {
        disconnects += 1;
      });
      resolve(replica);
    };
    socket.once('welcome', (info) => {
      replica = info.replica;
      finish();
    });
    socket.once('connect_error', (error) => {
      clearTimeout(timer);
      socket.disconnect();
      reject(error);
    });
    socket.io.once('open', () => {
      socket.io.engine.once('upgrade', () => {
        upgraded = true;
        finish();
      });
    });
    socket.connect();
  });
}

async function join(command: Extract<Command, { op: 'join' }>): Promise<JoinResult> {
  const members: Record<string, number> = {};
  let failed = 0;
  let next = 0;
  const one = async () => {
    while (next < clients.length) {
      const client = clients[next++]!;
      const room = roomFor(client.replica, indexOf.get(client) ?? 0, command.roomsPerReplica);
      try {
        const [reply] = (await client.request('join', [room], command.timeoutMs)) as [{ ok?: boolean }];
        if (reply?.ok !== true) throw new Error(`join refused: ${JSON.stringify(reply)}`);
        members[room] = (members[room] ?? 0) + 1;
      } catch {
        failed += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(32, Math.max(1, clients.length)) }, one));
  return { members, failed };
}

function sleepUntilUs(us: number): Promise<void> {
  const ms = Math.max(0, (us - nowUs()) / 1000);
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function load(command: Extract<Command, { op: 'load' }>): Promise<LoadResult> {
  const result: LoadResult = { sentWarmup: 0, sentMeasured: 0, expectedMeasured: 0, elu: 0, maxLagMs: 0 };
  const senders = clients.filter((client) => client.isOpen);
  if (senders.length === 0 || command.rate <= 0) return result;
  const rooms = command.rooms ?? [];
  if (command.kind === 'room' && rooms.length === 0) return result;
  const intervalUs = 1e6 / command.rate;
  await sleepUntilUs(command.startUs);
  const elu = performance.eventLoopUtilization();
  let sent = 0;
  // Bounded by time (endUs) and, as a backstop, by count.
  const maxSends = Math.ceil(((command.endUs - command.startUs) / 1e6) * command.rate) + 1;
  while (sent < maxSends) {
    const dueUs = command.startUs + sent * intervalUs;
    if (dueUs >= command.endUs) break;
    if (dueUs > nowUs()) await sleepUntilUs(dueUs);
    const now = nowUs();
    if (now >= command.endUs) break;
    result.maxLagMs = Math.max(result.maxLagMs, (now - dueUs) / 1000);
    const isMeasured = now >= command.measureUs;
    const sender = senders[sent % senders.length]!;
    const payload = probePayload(now, isMeasured, command.size);
    if (command.kind === 'broadcast') {
      sender.broadcast(payload);
    } else {
      const [room, members] = rooms[sent % rooms.length]!;
      sender.roomEmit(room, payload);
      if (isMeasured) result.expectedMeasured += members;
    }
    if (isMeasured) result.sentMeasured += 1;
    else result.sentWarmup += 1;
    sent += 1;
  }
  result.elu = performance.eventLoopUtilization(elu).utilization;
  result.maxLagMs = Math.round(result.maxLagMs * 1000) / 1000;
  return result;
}

async function storm(command: Extract<Command, { op: 'storm' }>): Promise<StormResult> {
  const welcome = newHistogram();
  const upgrade = newHistogram();
  const result: StormResult = {
    attempts: 0,
    ok: 0,
    failed: 0,
    notUpgraded: 0,
    errors: [],
    welcome: '',
    upgrade: '',
    elu: 0,
    replicas: {},
  };
  const deadline = performance.now() + command.durationMs;
  const elu = performance.eventLoopUtilization();
  let source = 0;
  const one = async () => {
    // Bounded by the deadline; every attempt ends within timeoutMs.
    while (performance.now() < deadline) {
      const localAddress = clientSourceAddress(command.firstSource + (source++ % command.sources));
      result.attempts += 1;
      const started = nowUs();
      const socket = createClient(command.url, { localAddress, reconnection: false });
      try {
        const outcome = await new Promise<'upgraded' | 'polling'>((resolve, reject) => {
          const timer = setTimeout(() => {
            if (welcomed) resolve('polling');
            else reject(new Error(`no welcome within ${command.timeoutMs} ms`));
          }, command.timeoutMs);
          let welcomed = false;
          let upgraded = false;
          const finish = () => {
            if (welcomed && upgraded) {
              clearTimeout(timer);
              resolve('upgraded');
            }
          };
          socket.once('welcome', (info) => {
            recordUs(welcome, nowUs() - started);
            result.replicas[info.replica] = (result.replicas[info.replica] ?? 0) + 1;
            welcomed = true;
            finish();
          });
          socket.once('connect_error', (error) => {
            clearTimeout(timer);
            reject(error);
          });
          socket.io.once('open', () => {
            socket.io.engine.once('upgrade', () => {
              recordUs(upgrade, nowUs() - started);
              upgraded = true;
              finish();
            });
          });
          socket.connect();
        });
        if (outcome === 'upgraded') result.ok += 1;
        else result.notUpgraded += 1;
      } catch (error) {
        result.failed += 1;
        remember(result.errors, error);
      } finally {
        socket.disconnect();
        // The per-client keep-alive agent would hold its polling sockets open.
        (socket.io.opts as { agent?: Agent }).agent?.destroy?.();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, command.concurrency) }, one));
  result.elu = performance.eventLoopUtilization(elu).utilization;
  result.welcome = encodeHistogram(welcome);
  result.upgrade = encodeHistogram(upgrade);
  return result;
}

async function handle(command: Command): Promise<unknown> {
  switch (command.op) {
    case 'connect':
      return connect(command);
    case 'join':
      return join(command);
    case 'load':
      return load(command);
    case 'counts':
      return {
        measured,
        warmup,
        disconnects,
        open: clients.filter((client) => client.isOpen).length + heavy.filter((socket) => socket.connected).length,
      } satisfies CountsResult;
    case 'histogram':
      return { encoded: encodeHistogram(latency) };
    case 'reset':
      latency = newHistogram();
      measured = 0;
      warmup = 0;
      disconnects = 0;
      return {};
    case 'storm':
      return storm(command);
    case 'close':
      for (const client of clients.splice(0)) client.close();
      for (const socket of heavy.splice(0)) {
        socket.disconnect();
        (socket.io.opts as { agent?: Agent }).agent?.destroy?.();
      }
      indexOf.clear();
      return {};
  }
}

process.on('message', (command: Command) => {
  handle(command).then(
    (result) => process.send?.({ seq: command.seq, ok: true, result } satisfies Reply),
    (error: unknown) =>
      process.send?.({ seq: command.seq, ok: false, error: error instanceof Error ? error.message : String(error) } satisfies Reply),
  );
});

// The runner went away (finished, crashed or was killed): leave with it.
process.on('disconnect', () => {
  for (const client of clients) client.close();
  process.exit(0);
});
