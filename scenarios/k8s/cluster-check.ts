import { type CommandRunner, formatArgv } from '../container/command-runner.ts';
import { CLUSTER_VERSION_ARGS } from './kubectl-commands.ts';
import { parseServerVersion } from './kube-objects.ts';

/**
 * The k8s driver's preflight: a run without a reachable cluster fails in
 * seconds with what kubectl said, not minutes later inside `apply`.
 */
export class ClusterUnavailableError extends Error {
  readonly code = 'K8S_UNAVAILABLE';
  override name = 'ClusterUnavailableError';
}

/** Bound on the preflight, above kubectl's own --request-timeout=5s. */
export const CLUSTER_CHECK_TIMEOUT_MS = 10_000;

/** Resolves with the API server's version; rejects at once when kubectl is missing or no cluster answers. */
export async function requireCluster(runner: CommandRunner): Promise<string> {
  const result = await runner(CLUSTER_VERSION_ARGS, { timeoutMs: CLUSTER_CHECK_TIMEOUT_MS });
  const stderr = result.stderr.trim();
  if (result.code === null && !result.signal) {
    throw new ClusterUnavailableError(`k8s topology needs kubectl (>= 1.27): \`kubectl\` could not be started (${stderr || 'not on PATH'})`);
  }
  let version: string | undefined;
  try {
    version = result.stdout.trim() === '' ? undefined : parseServerVersion(result.stdout);
  } catch {
    version = undefined;
  }
  if (result.code !== 0 || version === undefined) {
    const why = stderr || (result.signal ? `no answer within ${CLUSTER_CHECK_TIMEOUT_MS} ms` : `exit code ${result.code}`);
    throw new ClusterUnavailableError(
      `k8s topology needs a reachable Kubernetes cluster: \`${formatArgv('kubectl', CLUSTER_VERSION_ARGS)}\` got no answer from an API server: ${why} ` +
        '(check `kubectl config current-context`, or point KUBECONFIG at a cluster)',
    );
  }
  return version;
}
