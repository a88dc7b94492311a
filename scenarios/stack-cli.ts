/**
 * `npm run stack -- up [--replicas N] [--proxy haproxy|nginx] [--adapter …]`:
 * keep a local topology running for a person to poke at (curl, the client
 * CLI, a browser), print where everything is, and stop it all on Ctrl-C.
 * The replica settings in the environment (PING_INTERVAL_MS, CORS_ORIGINS,
 * AUTH_*, RATE_LIMIT_*, …) reach every replica, as Compose's `environment:`
 * would pass them; a bad one stops `up` with the replica's own message.
 */
import { parseRunnerArgs, UsageError } from './cli-options.ts';
import { driverFor } from './drivers.ts';
import { describeReplicaEnv, replicaEnvFrom, TOPOLOGY_OWNED_VARIABLES } from './local/replica-env.ts';
import { installShutdown } from './shutdown.ts';
import type { Topology } from './topology.ts';

const log = (message: string) => process.stderr.write(`${message}\n`);
const USAGE =
  'usage: [REPLICA_SETTING=value …] npm run stack -- up [--replicas N] [--proxy haproxy|nginx] [--adapter redis|redis-sharded|redis-streams] [--log-dir DIR]';

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  if (command !== 'up') throw new UsageError(`unknown command "${command ?? ''}"`);
  const options = parseRunnerArgs(rest, process.env);
  if (options.topology !== 'local') throw new UsageError('stack up runs the local topology; use `make up` or `make deploy` for Docker');
  const replicaEnv = replicaEnvFrom(process.env);
  if (replicaEnv.ignored.length > 0) {
    log(`stack: ignoring ${replicaEnv.ignored.join(', ')}: the local stack sets ${[...TOPOLOGY_OWNED_VARIABLES].join(', ')} itself`);
  }
  let topology: Topology | undefined;
  installShutdown(async () => topology?.down(), log);
  topology = await (await driverFor('local')).up({
    kind: 'local',
    proxy: options.proxy,
    replicas: options.replicas,
    adapter: options.adapter,
    replicaEnv: replicaEnv.env,
    ...(options.logDir ? { logDir: options.logDir } : {}),
    ...(options.tls ? { tls: true } : {}),
  });
  const { proxyUrl, statsUrl, replicas, redisUrl } = topology.endpoints();
  const logDir = 'logDirectory' in topology ? String(topology.logDirectory) : undefined;
  process.stdout.write(
    [
      `proxy:    ${proxyUrl}   (npm run client -- --url ${proxyUrl} whoami)`,
      `demo:     open ${proxyUrl}/ in a browser${
        options.proxy === 'haproxy'
          ? ' (two windows land on different replicas and chat through Redis)'
          : ' (nginx ip_hash puts every window of this machine on one replica)'
      }`,
      ...(options.tls && logDir
        ? [`tls:      CA ${logDir}/tls/ca.pem (throwaway, this run only; curl --cacert it), plain ${topology.endpoints().plainProxyUrl} redirects`]
        : []),
      ...(statsUrl ? [`stats:    ${statsUrl}`] : []),
      `redis:    ${redisUrl ?? '-'}`,
      ...replicas.map((r) => `replica:  ${r.id} ${r.url}   (${r.url}/metrics)`),
      `settings: ${describeReplicaEnv(replicaEnv.env)}   (ADAPTER=${options.adapter})`,
      ...(logDir ? [`logs:     ${logDir}`] : []),
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
  // Stay up until a signal; installShutdown tears down and exits.
  await new Promise<never>(() => undefined);
}

main().catch((error: unknown) => {
  process.stderr.write(`stack: ${error instanceof Error ? error.message : String(error)}\n`);
  if (error instanceof UsageError) process.stderr.write(`${USAGE}\n`);
  process.exit(error instanceof UsageError ? 2 : 1);
});
