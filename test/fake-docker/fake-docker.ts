import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createExecRunner, type DockerRunner } from '../../scenarios/docker/docker-runner.ts';

/** Directory holding the fake `docker` executable; put it first on PATH. */
export const FAKE_DOCKER_DIR = dirname(fileURLToPath(import.meta.url));

export interface FakeDockerCall {
  argv: string[];
  env: Record<string, string | boolean | undefined>;
  stdinBytes: number;
  overrides?: unknown[];
}

export interface FakeDocker extends AsyncDisposable {
  /** The real exec runner, with the fake first on PATH: argv reaches it exactly as built. */
  runner: DockerRunner;
  /** Every invocation so far, in order. */
  calls(): Promise<FakeDockerCall[]>;
  /** Just the argv of every invocation. */
  argvs(): Promise<string[][]>;
}

/** A fresh fake: its own call log and state; `knobs` are FAKE_DOCKER_* variables (see fake-docker.mjs). */
export async function useFakeDocker(knobs: Record<string, string> = {}): Promise<FakeDocker> {
  const dir = await mkdtemp(join(tmpdir(), 'wsk-fake-docker-'));
  const logFile = join(dir, 'calls.jsonl');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${FAKE_DOCKER_DIR}${delimiter}${process.env.PATH ?? ''}`,
    FAKE_DOCKER_LOG: logFile,
    FAKE_DOCKER_STATE: join(dir, 'state.json'),
    ...knobs,
  };
  const calls = async (): Promise<FakeDockerCall[]> => {
    const text = await readFile(logFile, 'utf8').catch(() => '');
    return text
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as FakeDockerCall);
  };
  return {
    runner: createExecRunner({ env, timeoutMs: 20_000 }),
    calls,
    argvs: async () => (await calls()).map((call) => call.argv),
    [Symbol.asyncDispose]: () => rm(dir, { recursive: true, force: true }),
  };
}

/** A RoutingProbe that records what it was asked instead of connecting anywhere. */
export function recordingProbe(): {
  probe: (url: string, ids: readonly string[], options: { proxy: string; timeoutMs: number }) => Promise<void>;
  calls: Array<{ url: string; ids: string[]; proxy: string }>;
} {
  const calls: Array<{ url: string; ids: string[]; proxy: string }> = [];
  return {
    calls,
    probe: async (url, ids, options) => {
      calls.push({ url, ids: [...ids], proxy: options.proxy });
    },
  };
}
