import { createExecRunner, type DockerRunner, describeExit, type ExecRunnerOptions, type RunOptions, type RunResult } from '../docker/docker-runner.ts';

/**
 * Running a container tool's CLI (docker, kubectl, ...) the same way for
 * every driver: one injectable runner per executable, and one error that
 * names the executable, the argv, how it ended and its stderr.
 *
 * The runner type is the Docker drivers' own (docker-runner.ts), which was
 * never Docker-specific but for its name and its error message; the Compose
 * and Swarm drivers can move to CommandFailedError without changing their
 * runners.
 */
export type CommandRunner = DockerRunner;
export type { RunOptions, RunResult };

/** The real runner for `executable`, looked up on PATH (zx underneath, argv quoted element by element). */
export function createCommandRunner(executable: string, options: Omit<ExecRunnerOptions, 'command'> = {}): CommandRunner {
  return createExecRunner({ ...options, command: executable });
}

/** Shell-like rendering of `EXECUTABLE ARGS` for messages (quoted where a shell would need it). */
export function formatArgv(executable: string, args: readonly string[]): string {
  return [executable, ...args].map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`)).join(' ');
}

function lastLines(text: string, count: number): string {
  const lines = text.split('\n');
  return lines.length <= count ? text : `…\n${lines.slice(-count).join('\n')}`;
}

export class CommandFailedError extends Error {
  readonly code = 'COMMAND_FAILED';
  constructor(
    readonly executable: string,
    readonly args: readonly string[],
    readonly result: RunResult,
  ) {
    const stderr = result.stderr.trim();
    super(`\`${formatArgv(executable, args)}\` ${describeExit(result)}${stderr ? `: ${lastLines(stderr, 20)}` : ''}`);
    this.name = 'CommandFailedError';
  }
}

/** Run and require exit 0; returns stdout. */
export async function runChecked(runner: CommandRunner, executable: string, args: readonly string[], options?: RunOptions): Promise<string> {
  const result = await runner(args, options);
  if (result.code !== 0) throw new CommandFailedError(executable, args, result);
  return result.stdout;
}
