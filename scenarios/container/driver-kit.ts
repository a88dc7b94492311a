import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * What the container drivers (compose, swarm, k8s) share: the replica-count
 * rule the proxy config imposes, the run's override file, the
 * testcontainers-style "a failed up() tears down what it started", and the
 * logs saved on the way down. Each driver keeps only what is its own.
 */

/** haproxy/haproxy.cfg has 16 server-template slots: replicas beyond them would get no traffic. */
export const MAX_TEMPLATE_REPLICAS = 16;

export function checkReplicaCount(count: number, max = MAX_TEMPLATE_REPLICAS): void {
  if (!Number.isInteger(count) || count < 1 || count > max) {
    throw new RangeError(`replicas must be a whole number in 1..${max}, got ${count}`);
  }
}

/** The one dependency every topology can stop and start. */
export function checkDependency(name: 'redis'): 'redis' {
  if (name !== 'redis') throw new Error(`unknown dependency ${String(name)}`);
  return name;
}

/**
 * Writes the run's override file (JSON is YAML, for Compose and stack files
 * alike) into `workDir`; resolves with its path, or undefined when there is
 * nothing to override.
 */
export async function writeOverrideFile(workDir: string, override: object | undefined): Promise<string | undefined> {
  if (override === undefined) return undefined;
  const file = join(workDir, 'override.json');
  await writeFile(file, `${JSON.stringify(override, null, 2)}\n`);
  return file;
}

/** Brings `topology` up; on failure removes what it created, then rethrows the cause. */
export async function upOrTearDown<T extends { up(): Promise<void>; down(): Promise<void> }>(topology: T): Promise<T> {
  try {
    await topology.up();
    return topology;
  } catch (error) {
    await topology.down().catch(() => undefined);
    throw error;
  }
}

/**
 * Saves each `[file name, text]` the producer yields under `logDir`. Logs
 * are a courtesy: nothing here may stop a teardown, so every failure is
 * swallowed.
 */
export async function saveLogs(logDir: string, produce: () => AsyncIterable<readonly [string, string]>): Promise<void> {
  try {
    await mkdir(logDir, { recursive: true });
    for await (const [name, text] of produce()) await writeFile(join(logDir, name), text);
  } catch {
    // Never let logs stop the teardown.
  }
}
