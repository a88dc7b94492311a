import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after } from 'node:test';
import { REPO_ROOT } from '../../scenarios/lib/repo-root.ts';

/**
 * Run one of the repository's CLIs (`scenarios/cli.ts`, `scenarios/stack-cli.ts`)
 * as a user would, collecting its output. Call it inside a test: the hook it
 * registers stops the CLI when that test ends, pass or fail.
 */
export function runCli(script: string, args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, script), ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // On a failed assertion the child is still up: Ctrl-C it (so it stops its
  // own children), and only SIGKILL it if that does not work in time.
  after(async () => {
    if (child.exitCode !== null) return;
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  });
  return { child, exited, out: () => stdout, err: () => stderr };
}
