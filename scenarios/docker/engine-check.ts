import { type DockerRunner, formatCommand, type RunResult } from './docker-runner.ts';

/**
 * Preflight checks the Docker drivers run before anything else, so a machine
 * without a reachable engine fails in about a second with a message naming
 * what is missing, not minutes later inside `compose up`.
 */

export type DockerTopologyName = 'compose' | 'swarm';

export class DockerUnavailableError extends Error {
  readonly code = 'DOCKER_UNAVAILABLE';
  constructor(message: string) {
    super(message);
    this.name = 'DockerUnavailableError';
  }
}

/** `docker version` must answer in this time; an unreachable DOCKER_HOST would otherwise hang. */
export const ENGINE_CHECK_TIMEOUT_MS = 8_000;

export const VERSION_ARGS = ['version', '--format', '{{.Server.Version}}'] as const;
export const COMPOSE_VERSION_ARGS = ['compose', 'version', '--short'] as const;
export const SWARM_STATE_ARGS = [
  'info',
  '--format',
  '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}} {{.Swarm.NodeID}}',
] as const;

function why(result: RunResult): string {
  const stderr = result.stderr.trim();
  if (stderr) return stderr;
  if (result.signal) return `no answer within ${ENGINE_CHECK_TIMEOUT_MS} ms`;
  return `exit code ${result.code}, no output`;
}

/** Resolves with the engine's version; rejects at once when the daemon is unreachable. */
export async function requireDockerEngine(runner: DockerRunner, topology: DockerTopologyName): Promise<string> {
  const result = await runner(VERSION_ARGS, { timeoutMs: ENGINE_CHECK_TIMEOUT_MS });
  if (result.code === null && !result.signal) {
    throw new DockerUnavailableError(
      `${topology} topology needs the docker CLI: \`docker\` could not be started (${why(result)})`,
    );
  }
  const version = result.stdout.trim();
  if (result.code !== 0 || version === '') {
    throw new DockerUnavailableError(
      `${topology} topology needs a running Docker engine: \`${formatCommand(VERSION_ARGS)}\` could not reach the daemon: ${why(result)}`,
    );
  }
  return version;
}

/** `docker compose` v2 with `up --wait` (2.1.1+) and `ps --format json`. */
export const MIN_COMPOSE_VERSION = '2.1.1';

export async function requireComposePlugin(runner: DockerRunner): Promise<string> {
  const result = await runner(COMPOSE_VERSION_ARGS, { timeoutMs: ENGINE_CHECK_TIMEOUT_MS });
  const version = result.stdout.trim().replace(/^v/, '');
  if (result.code !== 0 || version === '') {
    throw new DockerUnavailableError(
      `compose topology needs Docker Compose v2 (the \`docker compose\` plugin): \`${formatCommand(COMPOSE_VERSION_ARGS)}\` failed: ${why(result)}`,
    );
  }
  if (compareVersions(version, MIN_COMPOSE_VERSION) < 0) {
    throw new DockerUnavailableError(
      `compose topology needs Docker Compose >= ${MIN_COMPOSE_VERSION} (for \`up --wait\`); found ${version}`,
    );
  }
  return version;
}

export interface SwarmState {
  nodeId: string;
}

export async function requireSwarmManager(runner: DockerRunner): Promise<SwarmState> {
  const result = await runner(SWARM_STATE_ARGS, { timeoutMs: ENGINE_CHECK_TIMEOUT_MS });
  if (result.code !== 0) {
    throw new DockerUnavailableError(
      `swarm topology needs a running Docker engine: \`${formatCommand(SWARM_STATE_ARGS)}\` failed: ${why(result)}`,
    );
  }
  const [state = '', control = '', nodeId = ''] = result.stdout.trim().split(/\s+/);
  if (state !== 'active') {
    throw new DockerUnavailableError(
      `swarm topology needs this engine to be part of a swarm: its swarm state is "${state || 'unknown'}" (run \`docker swarm init\` first)`,
    );
  }
  if (control !== 'true') {
    throw new DockerUnavailableError(
      'swarm topology needs a swarm manager: this node is a worker (run the scenarios on a manager node)',
    );
  }
  return { nodeId };
}

/** Numeric compare of dotted versions ("2.29.7" vs "2.1.1"); pre-release suffixes are ignored. */
export function compareVersions(a: string, b: string): number {
  const parse = (value: string) => value.split(/[.+-]/).slice(0, 3).map((part) => Number.parseInt(part, 10) || 0);
  const left = parse(a);
  const right = parse(b);
  for (let index = 0; index < 3; index += 1) {
    const difference = (left[index] ?? 0) - (right[index] ?? 0);
    if (difference !== 0) return Math.sign(difference);
  }
  return 0;
}
