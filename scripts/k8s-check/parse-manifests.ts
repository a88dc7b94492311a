import { YAML } from 'zx';
import { isRecord, type K8sObject } from './k8s-object.ts';

/**
 * Every document of a multi-document YAML stream (`kubectl kustomize`
 * output) as a Kubernetes object. A document that does not parse, or is
 * not an object with apiVersion and kind, throws naming its position.
 */
export function parseManifests(text: string): K8sObject[] {
  const objects: K8sObject[] = [];
  YAML.parseAllDocuments(text).forEach((document, index) => {
    if (document.errors.length > 0) {
      throw new SyntaxError(`document ${index + 1}: ${document.errors.map((error: Error) => error.message).join('; ')}`);
    }
    const value: unknown = document.toJS();
    if (value === null || value === undefined) return;
    if (!isRecord(value) || typeof value.apiVersion !== 'string' || typeof value.kind !== 'string') {
      throw new SyntaxError(`document ${index + 1}: not a Kubernetes object (needs apiVersion and kind)`);
    }
    objects.push(value as K8sObject);
  });
  return objects;
}
