import { existsSync } from 'node:fs';
import { isRecord, type K8sObject, objectRef } from './k8s-object.ts';
import { modelLocation } from './model-location.ts';

interface Validatable {
  validate(): void;
}
type ModelClass = new (data: Record<string, unknown>) => Validatable;

/**
 * kubernetes-models still ships these group/versions (and validates against
 * them), but no supported Kubernetes serves them: `kubectl apply` would fail
 * with "no matches for kind". Version = the release that removed them.
 */
export const REMOVED_API_VERSIONS: Readonly<Record<string, string>> = {
  'extensions/v1beta1': '1.22',
  'apps/v1beta1': '1.16',
  'apps/v1beta2': '1.16',
  'networking.k8s.io/v1beta1': '1.22',
  'policy/v1beta1': '1.25',
  'batch/v1beta1': '1.25',
  'autoscaling/v2beta1': '1.25',
  'autoscaling/v2beta2': '1.26',
};

/**
 * Validate one object against the Kubernetes OpenAPI schema of its kind,
 * offline, with the validators `kubernetes-models` compiled from it (types,
 * required fields, enums, formats). Unknown fields pass there: see
 * unknownFieldProblems for those.
 */
export async function schemaProblems(object: K8sObject): Promise<string[]> {
  const where = objectRef(object);
  const removedIn = REMOVED_API_VERSIONS[object.apiVersion];
  if (removedIn !== undefined) return [`${where}: ${object.apiVersion} is no longer served (removed in Kubernetes ${removedIn})`];
  const location = modelLocation(object.apiVersion, object.kind);
  if (!location || !existsSync(location.declarationFile)) {
    return [`${where}: no schema for ${object.apiVersion} ${object.kind} (unknown kind, or an API version Kubernetes no longer serves)`];
  }
  const module: Record<string, unknown> = await import(location.specifier);
  const Model = module[object.kind] as ModelClass | undefined;
  if (typeof Model !== 'function') return [`${where}: kubernetes-models has no ${object.kind} in ${location.specifier}`];
  try {
    new Model({ ...object }).validate();
    return [];
  } catch (error) {
    const errors = isRecord(error) && Array.isArray(error.errors) ? error.errors : undefined;
    if (!errors) return [`${where}: ${error instanceof Error ? error.message : String(error)}`];
    return errors.map((entry) => {
      const detail = isRecord(entry) ? entry : {};
      const path = typeof detail.instancePath === 'string' && detail.instancePath !== '' ? detail.instancePath : '/';
      const params = isRecord(detail.params) ? ` ${JSON.stringify(detail.params)}` : '';
      return `${where}: ${path} ${typeof detail.message === 'string' ? detail.message : String(detail.keyword)}${params}`;
    });
  }
}
