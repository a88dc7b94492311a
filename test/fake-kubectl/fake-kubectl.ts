import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CommandRunner, createCommandRunner } from '../../scenarios/container/command-runner.ts';

/** Directory holding the fake `kubectl` executable; put it first on PATH. */
export const FAKE_KUBECTL_DIR = dirname(fileURLToPath(import.meta.url));

export interface FakeKubectlCall {
  argv: string[];
  stdinBytes?: number;
  /** Kinds of the objects `apply -f -` received on stdin. */
  applied?: string[];
  /** The run's kustomization.yaml, as `kustomize` read it. */
  kustomization?: Record<string, unknown>;
  /** Per secret key: whether its value looked like a random hex secret. */
  secrets?: Record<string, boolean>;
}

export interface FakeKubectl extends AsyncDisposable {
  /** The real exec runner, with the fake first on PATH: argv reaches it exactly as built. */
  runner: CommandRunner;
  /** Environment with the fake first on PATH, for spawned (background) kubectl processes. */
  env: NodeJS.ProcessEnv;
  calls(): Promise<FakeKubectlCall[]>;
  argvs(): Promise<string[][]>;
}

/** A fresh fake: its own call log and state; `knobs` are FAKE_KUBECTL_* variables (see fake-kubectl.mjs). */
export async function useFakeKubectl(knobs: Record<string, string> = {}): Promise<FakeKubectl> {
  const dir = await mkdtemp(join(tmpdir(), 'wsk-fake-kubectl-'));
  const logFile = join(dir, 'calls.jsonl');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${FAKE_KUBECTL_DIR}${delimiter}${process.env.PATH ?? ''}`,
    FAKE_KUBECTL_LOG: logFile,
    FAKE_KUBECTL_STATE: join(dir, 'state.json'),
    ...knobs,
  };
  const calls = async (): Promise<FakeKubectlCall[]> => {
    const text = await readFile(logFile, 'utf8').catch(() => '');
    return text
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as FakeKubectlCall);
  };
  return {
    runner: createCommandRunner('kubectl', { env, timeoutMs: 20_000 }),
    env,
    calls,
    argvs: async () => (await calls()).map((call) => call.argv),
    [Symbol.asyncDispose]: () => rm(dir, { recursive: true, force: true }),
  };
}
