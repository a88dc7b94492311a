import { join } from 'node:path';
import { REPO_ROOT } from '../../scenarios/lib/repo-root.ts';

/**
 * Where the pinned `kubernetes-models` package (a devDependency) keeps a
 * kind: its module (validator) and its type declarations (field names).
 * The core group is `v1/Kind`, every other `group/version/Kind`.
 */
export const MODELS_DIR = join(REPO_ROOT, 'node_modules', 'kubernetes-models');
export const APIMACHINERY_DIR = join(REPO_ROOT, 'node_modules', '@kubernetes-models', 'apimachinery');

const API_VERSION = /^(?:[a-z0-9.-]+\/)?v\d+(?:(?:alpha|beta)\d+)?$/;
const KIND = /^[A-Z][A-Za-z0-9]*$/;

export interface ModelLocation {
  /** Import specifier of the model class, e.g. `kubernetes-models/apps/v1/Deployment`. */
  specifier: string;
  /** Its .d.ts, whose interface lists every field the kind accepts. */
  declarationFile: string;
}

/** undefined when apiVersion or kind cannot name a model file (so nothing is imported from a crafted path). */
export function modelLocation(apiVersion: string, kind: string): ModelLocation | undefined {
  if (!API_VERSION.test(apiVersion) || !KIND.test(kind)) return undefined;
  return {
    specifier: `kubernetes-models/${apiVersion}/${kind}`,
    declarationFile: join(MODELS_DIR, ...apiVersion.split('/'), `${kind}.d.ts`),
  };
}
