/**
 * A person's client: `npm run client -- --url http://127.0.0.1:8080 whoami`.
 *
 *   whoami               which replica and transport serve this connection
 *   broadcast MESSAGE    send MESSAGE to every client in the cluster
 *   join ROOM            join ROOM and listen to it (and to broadcasts)
 *   room ROOM MESSAGE    send MESSAGE to ROOM's members
 *   replicas             the replicas alive in the cluster with their client counts
 *   listen               print every broadcast until Ctrl-C
 */
import { parseArgs } from 'node:util';
import { broadcast, clusterReplicas, join, roomEmit, whoami } from './api.ts';
import { type ClientTransport, openClient } from './connect.ts';

const USAGE = `usage: npm run client -- --url URL [--transports polling,websocket] [--local-address IP] [--token JWT] COMMAND
commands: whoami | broadcast MESSAGE | join ROOM | room ROOM MESSAGE | replicas | listen`;

class UsageError extends Error {}

function parseTransports(value: string | undefined): ClientTransport[] | undefined {
  if (value === undefined) return undefined;
  const names = value.split(',').map((name) => name.trim());
  for (const name of names) {
    if (name !== 'polling' && name !== 'websocket') {
      throw new UsageError(`--transports: unknown transport "${name}" (use polling and/or websocket)`);
    }
  }
  return names as ClientTransport[];
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: 'string', default: process.env.WSK_URL ?? 'http://127.0.0.1:8080' },
      transports: { type: 'string' },
      'local-address': { type: 'string' },
      // A JWT for replicas with AUTH_* set; WSK_TOKEN keeps it out of the shell history.
      token: { type: 'string', default: process.env.WSK_TOKEN },
      timeout: { type: 'string', default: '10000' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const [command, ...rest] = positionals;
  const arity: Record<string, number> = { whoami: 0, broadcast: 1, join: 1, room: 2, replicas: 0, listen: 0 };
  if (command === undefined || !(command in arity)) throw new UsageError(`unknown or missing command "${command ?? ''}"`);
  if (rest.length !== arity[command]) throw new UsageError(`${command} takes ${arity[command]} argument(s)`);
  const timeoutMs = Number(values.timeout);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new UsageError('--timeout must be a positive integer (ms)');

  const { socket, welcome } = await openClient(
    values.url,
    {
      transports: parseTransports(values.transports),
      localAddress: values['local-address'],
      ...(values.token ? { auth: { token: values.token } } : {}),
      reconnection: command === 'listen' || command === 'join',
    },
    timeoutMs,
  );
  try {
    switch (command) {
      case 'whoami':
        print(await whoami(socket));
        return 0;
      case 'broadcast':
        print(await broadcast(socket, rest[0]));
        return 0;
      case 'room':
        print(await roomEmit(socket, rest[0]!, rest[1]));
        return 0;
      case 'replicas':
        print(await clusterReplicas(socket));
        return 0;
      default: {
        print({ connected: welcome });
        socket.on('welcome', (again) => print({ reconnected: again }));
        socket.on('broadcast', (message) => print({ broadcast: message }));
        socket.on('room:message', (message) => print({ room: message }));
        if (command === 'join') {
          print({ joined: await join(socket, rest[0]!) });
          // Rooms do not survive a reconnection: join again on every new session.
          socket.on('welcome', () => void join(socket, rest[0]!).catch(() => undefined));
        }
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        return 0;
      }
    }
  } finally {
    socket.disconnect();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`client: ${message}\n`);
    if (error instanceof UsageError) process.stderr.write(`${USAGE}\n`);
    process.exit(error instanceof UsageError ? 2 : 1);
  },
);
