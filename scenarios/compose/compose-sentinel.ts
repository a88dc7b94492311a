/**
 * The Sentinel variant of the Compose stack (docker-compose.sentinel.yml)
 * as the compose driver drives it: which file to add, and the `docker exec`
 * argv that ask the sentinels and the data nodes, built by pure functions so
 * tests compare them with literals.
 */

/** docker-compose.sentinel.yml: the names it gives its services and its master. */
export const SENTINEL_OVERRIDE_FILE = 'docker-compose.sentinel.yml';
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
    throw new Error(`the sentinels name ${JSON.stringify(reply.trim())} as master, not a data node of docker-compose.sentinel.yml (${DATA_NODE_SERVICES.join(', ')}:6379)`);
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
