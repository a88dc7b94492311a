import { waitFor } from '../lib/wait-for.ts';

/**
 * The Sentinel variants of the Docker stacks (docker-compose.sentinel.yml,
 * stack/docker-stack.sentinel.yml) as the compose and swarm drivers drive
 * them: which file to add, and the `docker exec` argv that ask the sentinels
 * and the data nodes, built by pure functions so tests compare them with
 * literals. Both files give their services the same names.
 */

export const SENTINEL_OVERRIDE_FILE = 'docker-compose.sentinel.yml';
/** Relative to the repository root. */
export const STACK_SENTINEL_FILE = 'stack/docker-stack.sentinel.yml';
export const SENTINEL_MASTER_NAME = 'wsk';
export const SENTINEL_PORT = 26379;
export const SENTINEL_SERVICES = ['sentinel-1', 'sentinel-2', 'sentinel-3'] as const;
export const DATA_NODE_SERVICES = ['redis', 'redis-replica-1', 'redis-replica-2'] as const;
export type DataNodeService = (typeof DATA_NODE_SERVICES)[number];

/**
 * `redis-cli` inside a container. The password reaches it as REDISCLI_AUTH
 * from the docker CLI's own environment (`-e NAME` without a value): never
 * in argv, where `ps` would show it.
 */
export function redisCliExecArgs(containerId: string, port: number, command: readonly string[]): string[] {
  return ['exec', '-e', 'REDISCLI_AUTH', containerId, 'redis-cli', '--no-auth-warning', '-p', String(port), ...command];
}

export function masterAddressCommand(): string[] {
  return ['SENTINEL', 'get-master-addr-by-name', SENTINEL_MASTER_NAME];
}

export function failoverCommand(): string[] {
  return ['SENTINEL', 'FAILOVER', SENTINEL_MASTER_NAME];
}

/**
 * The data node a `get-master-addr-by-name` reply names: the sentinels
 * announce service names (announce-hostnames), so the host is the service.
 */
export function parseMasterService(reply: string): DataNodeService {
  const [host, port] = reply.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== '');
  const service = DATA_NODE_SERVICES.find((name) => name === host);
  if (!service || port !== '6379') {
    throw new Error(`the sentinels name ${JSON.stringify(reply.trim())} as master, not a data node of the Sentinel variant (${DATA_NODE_SERVICES.join(', ')}:6379)`);
  }
  return service;
}

/** From `INFO replication`: whether the node is a replica whose link to its master is up. */
export function isSyncedReplica(info: string): boolean {
  const fields = new Map(
    info
      .split(/\r?\n/)
      .map((line) => line.trim().split(':'))
      .filter((parts): parts is [string, string] => parts.length === 2)
      .map(([key, value]) => [key, value] as const),
  );
  return fields.get('role') === 'slave' && fields.get('master_link_status') === 'up';
}

/** `redis-cli` in a running container of `service` (the driver's own way to reach it). */
export type RedisCli = (service: string, port: number, command: readonly string[]) => Promise<string>;

/** The data node the sentinels name as master; asks each sentinel in turn (one may be the one just killed). */
export async function currentMaster(redisCli: RedisCli): Promise<DataNodeService> {
  const problems: string[] = [];
  for (const sentinel of SENTINEL_SERVICES) {
    try {
      return parseMasterService(await redisCli(sentinel, SENTINEL_PORT, masterAddressCommand()));
    } catch (error) {
      problems.push(`${sentinel}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  throw new Error(`no sentinel named the master: ${problems.join('; ')}`);
}

/** `SENTINEL FAILOVER` (an operator's switchover); resolves with the new master (`service:6379`) once a sentinel names it. */
export async function forceSwitchover(redisCli: RedisCli, timeoutMs: number): Promise<string> {
  const before = await currentMaster(redisCli);
  await redisCli(SENTINEL_SERVICES[0], SENTINEL_PORT, failoverCommand());
  const after = await waitFor(
    async () => {
      const now = await currentMaster(redisCli);
      return now !== before ? now : undefined;
    },
    { what: 'SENTINEL FAILOVER to name a new master', timeoutMs, intervalMs: 200 },
  );
  return `${after}:6379`;
}

/** Resolves once a revived data node is a replica synced with the master (it starts as a master of nothing; the sentinels convert it). */
export async function waitForSyncedReplica(redisCli: RedisCli, service: DataNodeService, label: string, timeoutMs: number): Promise<void> {
  await waitFor(async () => isSyncedReplica(await redisCli(service, 6379, ['INFO', 'replication'])), {
    what: `revived ${label} to be a synced replica`,
    timeoutMs,
    intervalMs: 500,
  });
}
