import { recordField, stringField } from '../docker/json-records.ts';

/**
 * The few fields the driver reads from `kubectl ... -o json`: one List
 * object with `items` (or, for `kubectl version`, one object). Anything that
 * is not JSON throws, naming the command's output.
 */

function parseObject(text: string, what: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new SyntaxError(`${what}: not JSON (${(error as Error).message}): ${text.slice(0, 200)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new SyntaxError(`${what}: expected a JSON object`);
  return parsed as Record<string, unknown>;
}

function items(text: string, what: string): Record<string, unknown>[] {
  const list = parseObject(text, what).items;
  if (!Array.isArray(list)) throw new SyntaxError(`${what}: expected a List with items`);
  return list.filter((item): item is Record<string, unknown> => typeof item === 'object' && item !== null && !Array.isArray(item));
}

/** The API server's version ("v1.31.2"), or undefined when kubectl printed only its own. */
export function parseServerVersion(text: string): string | undefined {
  const version = stringField(recordField(parseObject(text, 'kubectl version'), 'serverVersion'), 'gitVersion');
  return version === '' ? undefined : version;
}

export interface ReadyEndpoint {
  /** The pod behind it (= the replica's REPLICA_ID). */
  pod: string;
  address: string;
}

/**
 * Ready endpoints of a Service's EndpointSlices: what the headless Service's
 * DNS answers and what an ingress controller balances over. Terminating pods
 * stay in the slices with ready: false; they are left out. (The API says a
 * missing `ready` means ready.)
 */
export function parseReadyEndpoints(text: string): ReadyEndpoint[] {
  const seen = new Map<string, ReadyEndpoint>();
  for (const slice of items(text, 'kubectl get endpointslices')) {
    const endpoints = Array.isArray(slice.endpoints) ? slice.endpoints : [];
    for (const endpoint of endpoints) {
      if (typeof endpoint !== 'object' || endpoint === null) continue;
      const entry = endpoint as Record<string, unknown>;
      if (recordField(entry, 'conditions').ready === false) continue;
      const target = recordField(entry, 'targetRef');
      const address = Array.isArray(entry.addresses) ? entry.addresses.find((item): item is string => typeof item === 'string') : undefined;
      const pod = stringField(target, 'name');
      if (stringField(target, 'kind') !== 'Pod' || pod === '' || address === undefined) continue;
      seen.set(pod, { pod, address });
    }
  }
  return [...seen.values()].sort((a, b) => a.pod.localeCompare(b.pod));
}

export interface PodState {
  name: string;
  phase: string;
  podIp: string;
  /** Being deleted (metadata.deletionTimestamp set). */
  deleting: boolean;
  /** The named container's restartCount, readiness and whether it runs now (0 / false when it has no status yet). */
  restarts: number;
  ready: boolean;
  running: boolean;
}

export function parsePods(text: string, container: string): PodState[] {
  return items(text, 'kubectl get pods').map((pod) => {
    const metadata = recordField(pod, 'metadata');
    const status = recordField(pod, 'status');
    const statuses = Array.isArray(status.containerStatuses) ? status.containerStatuses : [];
    const mine = statuses.find((item): item is Record<string, unknown> => typeof item === 'object' && item !== null && (item as Record<string, unknown>).name === container);
    return {
      name: stringField(metadata, 'name'),
      phase: stringField(status, 'phase'),
      podIp: stringField(status, 'podIP'),
      deleting: stringField(metadata, 'deletionTimestamp') !== '',
      restarts: typeof mine?.restartCount === 'number' ? mine.restartCount : 0,
      ready: mine?.ready === true,
      // `state` holds exactly one of running / waiting (e.g. CrashLoopBackOff) / terminated.
      running: mine !== undefined && Object.keys(recordField(mine, 'state')).includes('running'),
    };
  });
}
