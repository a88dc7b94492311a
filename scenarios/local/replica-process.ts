import { join } from 'node:path';
import { type ManagedProcess, spawnManaged } from '../lib/managed-process.ts';
import { waitFor } from '../lib/wait-for.ts';
import { REPO_ROOT } from '../lib/repo-root.ts';

export interface ReplicaSpec {
  id: string;
  address: string;
  port: number;
  env: Readonly<Record<string, string>>;
  logFile?: string;
  /** A compiled entry (.js) run with plain node; default server/main.ts through tsx. */
  entry?: string;
}

/** Start `server/main.ts` (or `spec.entry`) as its own process and wait until its /readyz says 200. */
export async function startReplicaProcess(spec: ReplicaSpec, readyTimeoutMs = 20_000): Promise<ManagedProcess> {
  const args = spec.entry ? [spec.entry] : ['--import', 'tsx', join(REPO_ROOT, 'server/main.ts')];
  const child = spawnManaged(process.execPath, args, {
    name: spec.id,
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      ...spec.env,
      HOST: spec.address,
      PORT: String(spec.port),
      REPLICA_ID: spec.id,
    },
    ...(spec.logFile ? { logFile: spec.logFile } : {}),
  });
  // A replica that exits (a bad setting: exit 2) will never be ready: stop
  // waiting at once and say how it ended, not after the whole timeout.
  const exited = new AbortController();
  void child.exited.then(() => exited.abort(new Error(`${spec.id} ${child.describeExit()}`)));
  try {
    await waitFor(async () => (await readyzStatus(`http://${spec.address}:${spec.port}`)) === 200, {
      what: `${spec.id} at ${spec.address}:${spec.port} to answer /readyz 200`,
      timeoutMs: readyTimeoutMs,
      intervalMs: 100,
      signal: exited.signal,
    });
  } catch (error) {
    await child.stop(1000);
    const tail = child.output().trim().split('\n').slice(-15).join('\n');
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n--- ${spec.id} output ---\n${tail}`);
  }
  return child;
}

/** Status code of GET /readyz, or 0 when nothing answers. */
export async function readyzStatus(baseUrl: string): Promise<number> {
  try {
    const response = await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(2000) });
    await response.body?.cancel();
    return response.status;
  } catch {
    return 0;
  }
}
