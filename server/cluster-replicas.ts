import type { ReplicaInfo } from './protocol.ts';
import type { ReplicaServer } from './socket-types.ts';

export interface ClusterReplicas {
  replicas: ReplicaInfo[];
  /** False when some replica did not answer in time (or the adapter could not ask). */
  complete: boolean;
}

function isReplicaInfo(value: unknown): value is ReplicaInfo {
  if (typeof value !== 'object' || value === null) return false;
  const info = value as Record<string, unknown>;
  return typeof info.replica === 'string' && typeof info.clients === 'number';
}

/**
 * Ask every other replica for its `ReplicaInfo` through the adapter
 * (`serverSideEmit` with an ack) and add this replica's own. Never rejects:
 * missing answers make `complete` false.
 *
 * The adapter is called directly rather than through `io.serverSideEmit`
 * because the cluster adapters' `serverSideEmit` is async and the namespace
 * drops its promise: a Redis error there would be an unhandled rejection.
 * The adapters bound the wait themselves (the classic one with its
 * `requestsTimeout`, the cluster ones with a fixed 5 s); `timeoutMs` is a
 * safety net for the case where the adapter never calls back (it cannot
 * count the replicas while Redis is down).
 */
export function collectReplicas(io: ReplicaServer, self: () => ReplicaInfo, timeoutMs: number): Promise<ClusterReplicas> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (others: readonly unknown[], complete: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const replicas = [self(), ...others.filter(isReplicaInfo)].sort((a, b) => a.replica.localeCompare(b.replica));
      resolve({ replicas, complete });
    };
    const timer = setTimeout(() => finish([], false), timeoutMs);
    const ack = (error: unknown, responses: unknown) => finish(Array.isArray(responses) ? responses : [], !error);
    try {
      const result: unknown = io.of('/').adapter.serverSideEmit(['replica:info', ack]);
      if (result instanceof Promise) result.catch(() => finish([], false));
    } catch {
      // The in-memory adapter (no cluster) does not support serverSideEmit.
      finish([], false);
    }
  });
}
