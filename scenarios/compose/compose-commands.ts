import type { ReplicaSignal } from '../topology.ts';

/**
 * Every `docker` argv the compose driver issues, built by pure functions so
 * tests compare them with literals. The driver only decides *when*.
 */

export interface ComposeProject {
  /** `-p`: unique per run, so runs never share containers, networks or volumes. */
  name: string;
  /** `-f`: docker-compose.yml first, then the run's override file, if any. */
  files: readonly string[];
  /** `--profile`: `nginx` when the Nginx proxy is wanted. */
  profiles: readonly string[];
}

export const SERVER_SERVICE = 'server';
export const REDIS_SERVICE = 'redis';
/** HAProxy runs in every profile (Nginx is the extra one). */
export const HAPROXY_SERVICE = 'haproxy';
export const SERVER_PORT = 3000;
/** Container ports the proxies listen on (docker-compose.yml). */
export const PROXY_CONTAINER_PORT = { haproxy: 8080, nginx: 8081 } as const;

/** The project's default network (Compose names it `<project>_default`). */
export const projectNetwork = (project: ComposeProject): string => `${project.name}_default`;

export function composeBase(project: ComposeProject): string[] {
  return [
    'compose',
    '-p',
    project.name,
    ...project.files.flatMap((file) => ['-f', file]),
    ...project.profiles.flatMap((profile) => ['--profile', profile]),
  ];
}

/** First start: build the replica image if needed, wait until every container is healthy. */
export function upArgs(project: ComposeProject, replicas: number): string[] {
  return [...composeBase(project), 'up', '-d', '--build', '--wait', '--scale', `${SERVER_SERVICE}=${replicas}`];
}

/** Scale without touching running containers (`--no-recreate`): only add or remove replicas. */
export function scaleArgs(project: ComposeProject, replicas: number): string[] {
  return [...composeBase(project), 'up', '-d', '--wait', '--no-recreate', '--scale', `${SERVER_SERVICE}=${replicas}`];
}

/** Running containers of one service, as JSON (array or one object per line, by Compose version). */
export function psArgs(project: ComposeProject, service: string): string[] {
  return [...composeBase(project), 'ps', '--format', 'json', service];
}

/** The host address:port a container port is published on. */
export function portArgs(project: ComposeProject, service: string, containerPort: number): string[] {
  return [...composeBase(project), 'port', service, String(containerPort)];
}

export function stopServiceArgs(project: ComposeProject, service: string): string[] {
  return [...composeBase(project), 'stop', service];
}

export function startServiceArgs(project: ComposeProject, service: string): string[] {
  return [...composeBase(project), 'start', service];
}

/** Remove containers, networks and volumes of this run, and containers of services no longer in the file. */
export function downArgs(project: ComposeProject): string[] {
  return [...composeBase(project), 'down', '-v', '--remove-orphans'];
}

export function logsArgs(project: ComposeProject): string[] {
  return [...composeBase(project), 'logs', '--no-color', '--timestamps'];
}

/** One replica, by container id: `docker kill` sends any signal (compose kill would hit every replica). */
export function killContainerArgs(containerId: string, signal: ReplicaSignal): string[] {
  return ['kill', '--signal', signal, containerId];
}

/** Blocks until the container has stopped; prints its exit code. */
export function waitContainerArgs(containerId: string): string[] {
  return ['wait', containerId];
}

export function startContainerArgs(containerId: string): string[] {
  return ['start', containerId];
}

export function inspectArgs(ids: readonly string[]): string[] {
  return ['inspect', ...ids];
}

/**
 * A second HAProxy container on the project network (a negative control),
 * labelled as the project's so `down --remove-orphans` would also catch it.
 * `-e NAME` without a value takes the value from the CLI's environment: the
 * run's secrets never appear in argv. The port goes to a free loopback port.
 */
export function runProxyVariantArgs(
  project: ComposeProject,
  variant: { name: string; image: string; configFile: string; env: readonly string[] },
): string[] {
  return [
    'run',
    '-d',
    '--name',
    variant.name,
    '--label',
    `com.docker.compose.project=${project.name}`,
    '--network',
    projectNetwork(project),
    ...variant.env.flatMap((name) => ['-e', name]),
    '-v',
    `${variant.configFile}:/usr/local/etc/haproxy/haproxy.cfg:ro`,
    '-p',
    `127.0.0.1::${PROXY_CONTAINER_PORT.haproxy}`,
    variant.image,
  ];
}

export function removeContainerArgs(name: string): string[] {
  return ['rm', '-f', '-v', name];
}

export function containerPortArgs(name: string, port: number): string[] {
  return ['port', name, String(port)];
}

export function networkInspectArgs(network: string): string[] {
  return ['network', 'inspect', network];
}

