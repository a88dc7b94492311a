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

export function scaleServiceArgs(stack: SwarmStack, service: string, replicas: number): string[] {
  return ['service', 'scale', `${serviceName(stack, service)}=${replicas}`, '--detach=false'];
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

/** `--detach=false`: wait until the services and networks are gone (secrets can only go after). */
export function removeStackArgs(stack: SwarmStack): string[] {
  return ['stack', 'rm', '--detach=false', stack.name];
}
