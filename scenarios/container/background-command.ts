import { setTimeout as sleep } from 'node:timers/promises';
import { spawnManaged } from '../lib/managed-process.ts';

/**
 * A CLI command that keeps running while the topology is up (`kubectl
 * port-forward`, `docker compose logs -f`, ...): started, waited on until
 * its output says it is ready, stopped on teardown. Spawned through
 * lib/managed-process.ts so Ctrl-C and test teardown stop it too.
 */
export interface BackgroundCommand {
  readonly running: boolean;
  /** Its stdout + stderr so far (the last 64 KiB). */
  output(): string;
  /** "exited with code 1", "killed by SIGTERM", "still running". */
  describeExit(): string;
  stop(): Promise<void>;
}

export type BackgroundSpawner = (executable: string, args: readonly string[], options: { name: string; env?: NodeJS.ProcessEnv }) => BackgroundCommand;

export const spawnBackground: BackgroundSpawner = (executable, args, options) => {
  const child = spawnManaged(executable, args, options);
  return {
    get running() {
      return child.running;
    },
    output: () => child.output(),
    describeExit: () => child.describeExit(),
    stop: async () => {
      await child.stop(3_000);
    },
  };
};

/**
 * Resolves with the first match of `pattern` in the command's output; fails
 * at once if the command exits first (naming how, with its output), and at
 * the deadline otherwise. A poll with a deadline, never a fixed sleep.
 */
export async function waitForOutput(
  command: BackgroundCommand,
  pattern: RegExp,
  options: { what: string; timeoutMs: number; intervalMs?: number },
): Promise<RegExpExecArray> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const match = pattern.exec(command.output());
    if (match) return match;
    if (!command.running) {
      throw new BackgroundCommandError(`${options.what}: the command ${command.describeExit()} first: ${command.output().trim().slice(-2000)}`);
    }
    if (Date.now() >= deadline) {
      throw new BackgroundCommandError(`timed out after ${options.timeoutMs} ms waiting for ${options.what}; output so far: ${command.output().trim().slice(-2000)}`);
    }
    await sleep(options.intervalMs ?? 100);
  }
}

export class BackgroundCommandError extends Error {
  readonly code = 'BACKGROUND_COMMAND_FAILED';
  override name = 'BackgroundCommandError';
}
