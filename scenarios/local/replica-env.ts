import { CONFIG_VARIABLES, SECRET_VARIABLES } from '../../server/config.ts';

/**
 * Replica variables the local topology sets itself, one value per replica
 * or for its own Redis: a value from the caller's environment would break
 * the stack (every replica on one address, or pointed at another Redis).
 * ADAPTER is not among them but travels as `--adapter`, which defaults to it.
 */
export const TOPOLOGY_OWNED_VARIABLES: ReadonlySet<string> = new Set(['HOST', 'PORT', 'REPLICA_ID', 'REDIS_URL', 'REDIS_PASSWORD_FILE']);
const VIA_OPTIONS: ReadonlySet<string> = new Set(['ADAPTER']);

export interface ReplicaEnvSelection {
  /** What every replica gets, as given: the replica validates it (exit 2 with its own message). */
  env: Record<string, string>;
  /** Set in `env` but left out, because the topology sets them itself. */
  ignored: string[];
}

/**
 * The replica settings present in `env` (server/config.ts's variables, so a
 * new setting there needs nothing here), the way Compose passes a service's
 * `environment:`. Empty values are left out: the replica reads them as unset.
 */
export function replicaEnvFrom(env: NodeJS.ProcessEnv): ReplicaEnvSelection {
  const selected: Record<string, string> = {};
  const ignored: string[] = [];
  for (const name of CONFIG_VARIABLES) {
    const value = env[name];
    if (value === undefined || value === '' || VIA_OPTIONS.has(name)) continue;
    if (TOPOLOGY_OWNED_VARIABLES.has(name)) ignored.push(name);
    else selected[name] = value;
  }
  return { env: selected, ignored };
}

/** `NAME=value` pairs for a person to read; secrets shown as `***`. */
export function describeReplicaEnv(env: Readonly<Record<string, string>>): string {
  const pairs = Object.entries(env).map(([name, value]) => `${name}=${SECRET_VARIABLES.has(name) ? '***' : value}`);
  return pairs.length > 0 ? pairs.join(' ') : 'replica defaults';
}
