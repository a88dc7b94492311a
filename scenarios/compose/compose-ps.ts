import { numberField, parseJsonRecords, recordField, stringField } from '../docker/json-records.ts';

/** One container as `docker compose ps --format json` reports it. */
export interface ComposeContainer {
  /** As printed: the full 64-hex id (older Compose) or the 12-hex short id (2.21+). */
  id: string;
  name: string;
  service: string;
  /** running, exited, restarting, … */
  state: string;
  /** healthy, unhealthy, starting, or '' without a healthcheck. */
  health: string;
  exitCode: number | undefined;
}

/**
 * Parse `docker compose ps --format json` in both shapes it has had: a JSON
 * array (Compose < 2.21) and one JSON object per line (2.21+, aligned with
 * `docker ps`). Field names are the same in both.
 */
export function parseComposePs(text: string): ComposeContainer[] {
  return parseJsonRecords(text, 'docker compose ps --format json').map((record) => ({
    id: stringField(record, 'ID', 'Id'),
    name: stringField(record, 'Name', 'Names'),
    service: stringField(record, 'Service'),
    state: stringField(record, 'State').toLowerCase(),
    health: stringField(record, 'Health').toLowerCase(),
    exitCode: numberField(record, 'ExitCode'),
  }));
}

/** What the driver needs from `docker inspect CONTAINER…`. */
export interface ContainerDetails {
  id: string;
  /** The container's hostname: what the replica reports as its id (REPLICA_ID defaults to it). */
  hostname: string;
  running: boolean;
  /** IPv4 address per network name. */
  addresses: Record<string, string>;
  /** The image as the container was created from it (Config.Image). */
  image: string;
  /** Config.Env as NAME → value. */
  env: Record<string, string>;
}

export function parseContainerInspect(text: string): ContainerDetails[] {
  return parseJsonRecords(text, 'docker inspect').map((record) => {
    const networks = recordField(recordField(record, 'NetworkSettings'), 'Networks');
    const addresses: Record<string, string> = {};
    for (const [network, settings] of Object.entries(networks)) {
      if (typeof settings !== 'object' || settings === null) continue;
      const address = stringField(settings as Record<string, unknown>, 'IPAddress');
      if (address) addresses[network] = address;
    }
    const config = recordField(record, 'Config');
    const env: Record<string, string> = {};
    for (const entry of Array.isArray(config.Env) ? config.Env : []) {
      if (typeof entry !== 'string') continue;
      const at = entry.indexOf('=');
      if (at > 0) env[entry.slice(0, at)] = entry.slice(at + 1);
    }
    return {
      id: stringField(record, 'Id', 'ID'),
      hostname: stringField(config, 'Hostname'),
      running: recordField(record, 'State').Running === true,
      addresses,
      image: stringField(config, 'Image'),
      env,
    };
  });
}

/** The project's own network address, else the first one. */
export function containerAddress(details: ContainerDetails, preferredNetwork: string): string | undefined {
  return details.addresses[preferredNetwork] ?? Object.values(details.addresses)[0];
}

/**
 * `docker compose port SERVICE PORT` prints `0.0.0.0:49153` (and, with IPv6,
 * a `[::]:49153` line too). Returns the host port.
 */
export function parsePublishedPort(text: string): number {
  const line = text
    .split('\n')
    .map((entry) => entry.trim())
    .find((entry) => entry !== '');
  const match = line?.match(/:(\d+)$/);
  if (!match) throw new SyntaxError(`docker compose port: no published port in ${JSON.stringify(text.trim())}`);
  const port = Number(match[1]);
  if (port < 1 || port > 65535) throw new RangeError(`docker compose port: ${port} is not a port`);
  return port;
}

/** True when `containerId` (full or short) names the same container as `candidate` (full or short). */
export function sameContainer(containerId: string, candidate: string): boolean {
  if (containerId === '' || candidate === '') return false;
  return containerId.startsWith(candidate) || candidate.startsWith(containerId);
}
