import { randomBytes } from 'node:crypto';

/**
 * A name unique to one run (Compose project, Swarm stack, secret prefix), so
 * concurrent runs and leftovers of a crashed run never collide. Lower-case
 * letters, digits and dashes: valid as a Compose project name, a stack name
 * and a prefix of service, network and secret names.
 */
export function uniqueRunName(prefix = 'wsk'): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/** A throwaway secret for one run: hex, so it is safe in a redis:// URL and a redis.conf line. */
export function randomSecret(bytes = 24): string {
  return randomBytes(bytes).toString('hex');
}
