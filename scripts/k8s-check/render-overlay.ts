import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { K8sObject } from './k8s-object.ts';
import { parseManifests } from './parse-manifests.ts';

const run = promisify(execFile);

/**
 * `kubectl kustomize` argv for one overlay. The load restrictor is off
 * because the HAProxy overlay's ConfigMap reads haproxy/haproxy.cfg, outside
 * k8s/: kustomize's default (LoadRestrictionsRootOnly) refuses that file.
 */
export function kustomizeArgs(dir: string): string[] {
  return ['kustomize', '--load-restrictor', 'LoadRestrictionsNone', dir];
}

/** Render an overlay with the real kubectl (kustomize built in) and parse the objects. */
export async function renderOverlay(dir: string, kubectl = 'kubectl'): Promise<K8sObject[]> {
  let stdout: string;
  try {
    ({ stdout } = await run(kubectl, kustomizeArgs(dir), { maxBuffer: 16 * 1024 * 1024, timeout: 60_000 }));
  } catch (error) {
    const failure = error as { code?: string | number; stderr?: string; message?: string };
    if (failure.code === 'ENOENT') throw new Error(`${kubectl} is not installed (it renders the overlays; kubectl >= 1.27 has kustomize built in)`);
    throw new Error(`\`${kubectl} ${kustomizeArgs(dir).join(' ')}\` failed: ${(failure.stderr ?? failure.message ?? '').trim()}`);
  }
  return parseManifests(stdout);
}
