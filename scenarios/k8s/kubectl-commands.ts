import { kustomizeArgs } from '../../scripts/k8s-check/render-overlay.ts';
import type { ReplicaSignal } from '../topology.ts';

/** Every `kubectl` argv the k8s driver issues, as pure functions (tests compare literals). */

export const REPLICA_SELECTOR = 'app.kubernetes.io/name=wsk-server';
export const REDIS_SELECTOR = 'app.kubernetes.io/name=wsk-redis';
/** The label k8s/base puts on every object (kustomization `labels`). */
export const STACK_SELECTOR = 'app.kubernetes.io/part-of=wsk';
/** The replica's container in k8s/base/server-deployment.yaml. */
export const REPLICA_CONTAINER = 'server';

/**
 * Answers only when an API server does: kubectl prints its own version and
 * fails with "The connection to the server ... was refused" otherwise. The
 * short request timeout keeps an unreachable cluster from hanging the run.
 */
export const CLUSTER_VERSION_ARGS = ['version', '-o', 'json', '--request-timeout=5s'] as const;

/** Render the run's kustomization (the overlay is outside it: load restrictor off, as for `make check`). */
export function renderArgs(dir: string): string[] {
  return kustomizeArgs(dir);
}

/** The rendered objects arrive on stdin; each already carries the run's namespace. */
export function applyArgs(): string[] {
  return ['apply', '-f', '-'];
}

export function rolloutStatusArgs(namespace: string, resource: string, timeoutS: number): string[] {
  return ['rollout', 'status', '-n', namespace, resource, `--timeout=${timeoutS}s`];
}

export function scaleArgs(namespace: string, resource: string, replicas: number): string[] {
  return ['scale', '-n', namespace, resource, `--replicas=${replicas}`];
}

export function getPodsArgs(namespace: string, selector: string): string[] {
  return ['get', 'pods', '-n', namespace, '-l', selector, '-o', 'json'];
}

/** The slices of one Service: what its DNS (headless) or an ingress controller routes to. */
export function getEndpointSlicesArgs(namespace: string, service: string): string[] {
  return ['get', 'endpointslices', '-n', namespace, '-l', `kubernetes.io/service-name=${service}`, '-o', 'json'];
}

/**
 * Signal the replica's Node process inside its container. `kill -- -1`
 * reaches every process of the container but PID 1 (tini) and the shell
 * itself, i.e. node; tini then exits with node's status and the kubelet
 * restarts the container in the same pod - same name (REPLICA_ID), same
 * address, as Topology.start expects. (Deleting the pod would bring a new
 * pod with a new name; that path - preStop, endpoint removal - is what
 * scale() exercises.) `sh`'s built-in kill: the slim image has no procps.
 */
export function signalReplicaArgs(namespace: string, pod: string, signal: ReplicaSignal): string[] {
  const name = signal === 'SIGKILL' ? 'KILL' : 'TERM';
  return ['exec', '-n', namespace, pod, '-c', REPLICA_CONTAINER, '--', 'sh', '-c', `kill -s ${name} -- -1`];
}

export function waitPodsDeletedArgs(namespace: string, selector: string, timeoutS: number): string[] {
  return ['wait', '-n', namespace, '--for=delete', 'pod', '-l', selector, `--timeout=${timeoutS}s`];
}

/** `:PORT`: kubectl picks a free local port and prints it ("Forwarding from 127.0.0.1:N -> PORT"). */
export function portForwardArgs(namespace: string, target: string, remotePort: number): string[] {
  return ['port-forward', '-n', namespace, target, `:${remotePort}`, '--address', '127.0.0.1'];
}

/** Every container of the run, whole logs (a selector alone means --tail=10 and 5 pods at most). */
export function logsArgs(namespace: string): string[] {
  return ['logs', '-n', namespace, '-l', STACK_SELECTOR, '--all-containers', '--prefix', '--timestamps', '--tail=-1', '--max-log-requests=40'];
}

/** The run's namespace holds everything it created: deleting it is the whole teardown. */
export function deleteNamespaceArgs(namespace: string, timeoutS: number): string[] {
  return ['delete', 'namespace', namespace, '--wait=true', `--timeout=${timeoutS}s`, '--ignore-not-found'];
}
