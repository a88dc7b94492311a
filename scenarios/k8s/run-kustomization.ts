import type { AdapterKind } from '../topology.ts';

/**
 * The files of one run's kustomization: the chosen overlay, unchanged, plus
 * what a scenario run needs on top - its own namespace, the image, the
 * replica count, the adapter and extra replica environment, throwaway
 * secrets, and no HorizontalPodAutoscaler (scenarios set the count
 * themselves; an HPA would fight `kubectl scale`). Pure: every value in,
 * file contents out (JSON, which kustomize reads as YAML).
 */
export interface RunKustomizationInput {
  /** k8s/overlays/<name>, relative to the run's directory (kustomize refuses an absolute base: "new root cannot be absolute"). */
  overlayPath: string;
  namespace: string;
  /** The replica image the cluster can pull, e.g. registry.example.com/wsk-server:1.2.3 (or a @sha256 digest). */
  image: string;
  replicas: number;
  adapter: AdapterKind;
  replicaEnv?: Readonly<Record<string, string>>;
  /** Values of the Secret `wsk-secrets` (hex, generated per run). */
  secrets: Readonly<{ redisPassword: string; cookieKey: string; statsPassword: string }>;
}

export const RUN_LABEL = 'wsk.dev/scenario-run';

/** `name[:tag]` or `name@digest` → kustomize's images entry for the base's `wsk-server` image. */
export function imageOverride(image: string): Record<string, string> {
  const at = image.indexOf('@');
  if (at > 0) return { name: 'wsk-server', newName: image.slice(0, at), digest: image.slice(at + 1) };
  const colon = image.lastIndexOf(':');
  if (colon > image.lastIndexOf('/')) return { name: 'wsk-server', newName: image.slice(0, colon), newTag: image.slice(colon + 1) };
  return { name: 'wsk-server', newName: image };
}

export function runKustomization(input: RunKustomizationInput): Record<string, string> {
  const env = [{ name: 'ADAPTER', value: input.adapter }, ...Object.entries(input.replicaEnv ?? {}).map(([name, value]) => ({ name, value }))];
  const kustomization = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    namespace: input.namespace,
    resources: ['namespace.json', input.overlayPath],
    images: [imageOverride(input.image)],
    replicas: [{ name: 'server', count: input.replicas }],
    secretGenerator: [
      // The base refers to `wsk-secrets` by name; keep it (no hash suffix).
      { name: 'wsk-secrets', envs: ['secrets.env'], options: { disableNameSuffixHash: true } },
    ],
    patches: [
      { patch: JSON.stringify({ $patch: 'delete', apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: 'server' } }) },
      {
        patch: JSON.stringify({
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: 'server' },
          spec: { template: { spec: { containers: [{ name: 'server', env }] } } },
        }),
      },
    ],
  };
  const namespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: input.namespace, labels: { [RUN_LABEL]: 'true' } } };
  const secrets = [
    `redis-password=${input.secrets.redisPassword}`,
    `cookie-key=${input.secrets.cookieKey}`,
    `stats-password=${input.secrets.statsPassword}`,
  ];
  return {
    'kustomization.yaml': `${JSON.stringify(kustomization, null, 2)}\n`,
    'namespace.json': `${JSON.stringify(namespace, null, 2)}\n`,
    'secrets.env': `${secrets.join('\n')}\n`,
  };
}
