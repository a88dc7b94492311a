import type { ReplicaSignal } from '../topology.ts';

/** Every `docker` argv the swarm driver issues, as pure functions (tests compare literals). */

export interface SwarmStack {
  /** Stack name: prefix of every service (`NAME_server`), network and config; unique per run. */
  name: string;
  /** `-c`: stack/docker-stack.yml first, then the run's override file, if any. */
  files: readonly string[];
  /** Deploy a locally built image: do not ask a registry for its digest. */
  localImage: boolean;
}

/** The secrets stack/docker-stack.yml expects, created as `<prefix>_<name>`. */
export const STACK_SECRETS = ['redis_password', 'cookie_key', 'stats_password'] as const;
export type StackSecret = (typeof STACK_SECRETS)[number];

export const serviceName = (stack: SwarmStack, service: string): string => `${stack.name}_${service}`;
export const secretName = (prefix: string, secret: StackSecret): string => `${prefix}_${secret}`;
/** The stack's overlay network (`networks: wsk` in the file, prefixed by the stack name). */
export const stackNetwork = (stack: SwarmStack): string => `${stack.name}_wsk`;

export function buildImageArgs(image: string, contextDir: string): string[] {
  return ['build', '-t', image, contextDir];
}

/** The value arrives on stdin (`-`), never in argv where `ps` would show it. */
export function createSecretArgs(name: string): string[] {
  return ['secret', 'create', name, '-'];
}

export function removeSecretsArgs(names: readonly string[]): string[] {
  return ['secret', 'rm', ...names];
}

/** `--detach=false`: return once every service has converged (tasks running and healthy). */
export function deployArgs(stack: SwarmStack): string[] {
  return [
    'stack',
    'deploy',
    ...stack.files.flatMap((file) => ['-c', file]),
    '--detach=false',
    ...(stack.localImage ? ['--resolve-image', 'never'] : []),
    stack.name,
  ];
}

/**
 * `--detach=true`: the driver waits for the tasks itself. `--detach=false`
 * would make the CLI wait, after the tasks run, for the service's
 * update_config `monitor` (20 s in the stack file) to "verify that tasks are
 * stable" — measured: 26.4 s for 3 → 5 that way, 6.6 s to five running tasks
 * that HAProxy routes to; even a no-op scale took 20.5 s.
 */
export function scaleServiceArgs(stack: SwarmStack, service: string, replicas: number): string[] {
  return ['service', 'scale', `${serviceName(stack, service)}=${replicas}`, '--detach=true'];
}

/** Every task of the service, shut-down ones included (to see a stopping container finish). */
export function allTasksArgs(stack: SwarmStack, service: string): string[] {
  return ['service', 'ps', serviceName(stack, service), '--no-trunc', '--format', '{{json .}}'];
}

/** The service's tasks that should be running, one JSON object per line, full ids. */
export function servicePsArgs(stack: SwarmStack, service: string): string[] {
  return [
    'service',
    'ps',
    serviceName(stack, service),
    '--filter',
    'desired-state=running',
    '--no-trunc',
    '--format',
    '{{json .}}',
  ];
}

export function inspectTasksArgs(taskIds: readonly string[]): string[] {
  return ['inspect', '--type', 'task', ...taskIds];
}

/** A task's container, on this node: Swarm has no "signal one task" command. */
export function killContainerArgs(containerId: string, signal: ReplicaSignal): string[] {
  return ['kill', '--signal', signal, containerId];
}

export function waitContainerArgs(containerId: string): string[] {
  return ['wait', containerId];
}

/**
 * The stack's named volumes on this node (`docker stack deploy` labels what
 * it creates with its namespace). `docker stack rm` leaves volumes behind,
 * data and all: the run removes its own.
 */
export function stackVolumesArgs(stack: SwarmStack): string[] {
  return ['volume', 'ls', '--quiet', '--filter', `label=com.docker.stack.namespace=${stack.name}`];
}

export function removeVolumesArgs(names: readonly string[]): string[] {
  return ['volume', 'rm', ...names];
}

/** `--detach=false`: wait until the services and networks are gone (secrets can only go after). */
export function removeStackArgs(stack: SwarmStack): string[] {
  return ['stack', 'rm', '--detach=false', stack.name];
}

/**
 * GET a URL from inside a container (its network namespace, its DNS), with
 * the container's own Node: how the runner reads replicas' /readyz and
 * /metrics and HAProxy's stats on the stack's overlay network, which the
 * host cannot reach. Prints the status on the first line, then the body.
 * Headers arrive as JSON in WSK_FETCH_HEADERS from the CLI's environment
 * (`-e NAME` without a value), never in argv.
 */
export const IN_CONTAINER_FETCH = [
  'const [url, ms] = process.argv.slice(1);',
  'fetch(url, { headers: JSON.parse(process.env.WSK_FETCH_HEADERS || "{}"), signal: AbortSignal.timeout(Number(ms)) })',
  '.then(async (r) => { const t = await r.text(); process.stdout.write(r.status + "\\n" + t); },',
  '(e) => { console.error("GET " + url + " failed: " + (e && e.cause ? e.cause.message : e)); process.exit(3); });',
].join(' ');

/** Splits what IN_CONTAINER_FETCH printed into status and body. */
export function parseFetchOutput(text: string): { status: number; body: string } {
  const newline = text.indexOf('\n');
  const status = Number(newline < 0 ? text : text.slice(0, newline));
  if (!Number.isInteger(status) || status < 100 || status > 599) throw new SyntaxError(`in-container fetch printed no status: ${text.slice(0, 80)}`);
  return { status, body: newline < 0 ? '' : text.slice(newline + 1) };
}

export function execFetchArgs(containerId: string, url: string, timeoutMs: number): string[] {
  return ['exec', '-e', 'WSK_FETCH_HEADERS', containerId, 'node', '-e', IN_CONTAINER_FETCH, url, String(timeoutMs)];
}

/**
 * A rolling update of one service, by the stack's own update_config
 * (one task at a time, start-first): `--force` replaces every task with an
 * unchanged spec; `--image` rolls onto another image. `--detach=false`
 * returns once the update has converged (or rolled back: exit non-zero).
 */
export function forceUpdateArgs(stack: SwarmStack, service: string): string[] {
  return ['service', 'update', '--force', '--detach=false', serviceName(stack, service)];
}

export function imageUpdateArgs(stack: SwarmStack, service: string, image: string): string[] {
  return [
    'service',
    'update',
    '--image',
    image,
    // A locally built tag has no registry digest to look up.
    ...(stack.localImage ? ['--no-resolve-image'] : []),
    '--detach=false',
    serviceName(stack, service),
  ];
}

export function tagImageArgs(source: string, target: string): string[] {
  return ['tag', source, target];
}

/** Removes the tag only; the image stays while another tag names it. */
export function untagImageArgs(tag: string): string[] {
  return ['image', 'rm', tag];
}
