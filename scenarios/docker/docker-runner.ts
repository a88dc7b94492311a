import { $ } from 'zx';

/** What one `docker …` invocation produced. A non-zero exit is a result, not an exception. */
export interface RunResult {
  /** Exit code; null when the process was killed (timeout) or could not start. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Extra environment for this command (merged over the runner's). */
  env?: Readonly<Record<string, string>>;
  /** Written to the command's stdin (e.g. `docker secret create NAME -`). */
  input?: string;
  /** Kill the command after this long. */
  timeoutMs?: number;
}

/**
 * Runs the `docker` CLI. Everything the drivers do to Docker goes through one
 * of these, so tests can hand in a recorder, or point the real one at a fake
 * `docker` executable on PATH and check the exact argv.
 */
export type DockerRunner = (args: readonly string[], options?: RunOptions) => Promise<RunResult>;

export interface ExecRunnerOptions {
  /** The executable; default `docker`, looked up on the PATH of `env`. */
  command?: string;
  /** Base environment; default process.env. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Default per-command timeout. */
  timeoutMs?: number;
}

const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;

/**
 * The real runner, on zx: argv is interpolated as an array, so zx quotes each
 * element and it reaches docker exactly as built; `nothrow` because a non-zero
 * exit is a result the driver interprets, not an exception.
 */
export function createExecRunner(runnerOptions: ExecRunnerOptions = {}): DockerRunner {
  const command = runnerOptions.command ?? 'docker';
  return async (args, options = {}) => {
    const run = $({
      env: { ...(runnerOptions.env ?? process.env), ...options.env },
      ...(runnerOptions.cwd ? { cwd: runnerOptions.cwd } : {}),
      ...(options.input !== undefined ? { input: options.input } : {}),
      timeout: options.timeoutMs ?? runnerOptions.timeoutMs ?? 120_000,
      maxBuffer: MAX_OUTPUT_BYTES,
      nothrow: true,
      quiet: true,
      verbose: false,
    });
    try {
      const output = await run`${command} ${[...args]}`;
      return {
        code: output.exitCode,
        signal: output.signal,
        stdout: output.stdout,
        stderr: output.stderr,
      };
    } catch (error) {
      // The executable itself could not be started (ENOENT & co).
      return { code: null, signal: null, stdout: '', stderr: error instanceof Error ? error.message : String(error) };
    }
  };
}

/** "exited with code 1", "killed by SIGTERM (timeout?)", "could not start". */
export function describeExit(result: Pick<RunResult, 'code' | 'signal'>): string {
  if (result.signal) return `killed by ${result.signal} (timed out?)`;
  if (result.code === null) return 'could not start';
  return `exited with code ${result.code}`;
}

/** A docker command that failed: names the command, how it ended and what it printed on stderr. */
export class DockerCommandError extends Error {
  readonly code = 'DOCKER_COMMAND_FAILED';
  constructor(
    readonly args: readonly string[],
    readonly result: RunResult,
  ) {
    const stderr = result.stderr.trim();
    super(`\`${formatCommand(args)}\` ${describeExit(result)}${stderr ? `: ${lastLines(stderr, 20)}` : ''}`);
    this.name = 'DockerCommandError';
  }
}

/** Shell-like rendering of `docker ARGS` for messages (quoted where a shell would need it). */
export function formatCommand(args: readonly string[]): string {
  return ['docker', ...args].map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`)).join(' ');
}

function lastLines(text: string, count: number): string {
  const lines = text.split('\n');
  return lines.length <= count ? text : `…\n${lines.slice(-count).join('\n')}`;
}

/** Run and require exit 0; returns stdout. */
export async function runChecked(runner: DockerRunner, args: readonly string[], options?: RunOptions): Promise<string> {
  const result = await runner(args, options);
  if (result.code !== 0) throw new DockerCommandError(args, result);
  return result.stdout;
}
