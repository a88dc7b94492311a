import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { K8sObject } from './k8s-object.ts';
import { schemaProblems } from './schema-problems.ts';
import { parseShape, type Shape, unknownFieldProblems, unknownFields } from './unknown-fields.ts';

/** Shaped like kubernetes-models' declarations: comments, imports, maps, arrays, a class repeating the fields. */
const PROBE_DTS = `import { IIoK8sApiCoreV1HTTPGetAction } from "./HTTPGetAction.js";
import { IIoK8sApimachineryPkgApiResourceQuantity } from "@kubernetes-models/apimachinery/api/resource/Quantity";
import { ModelData, Model } from "@kubernetes-models/base";
/**
 * A probe; { braces; and "quotes": in comments } do not count.
 */
export interface IProbe {
    /** HTTPGet specifies an HTTP GET request to perform. */
    "httpGet"?: IIoK8sApiCoreV1HTTPGetAction;
    "limits"?: {
        [key: string]: IIoK8sApimachineryPkgApiResourceQuantity;
    };
    "gates"?: Array<IIoK8sApiCoreV1HTTPGetAction>;
    "periodSeconds"?: number;
    "mode"?: "A" | "B";
}
export declare class Probe extends Model<IProbe> implements IProbe {
    "httpGet"?: IIoK8sApiCoreV1HTTPGetAction;
    "other"?: string;
}
`;

describe('parseShape (declarations as literals)', () => {
  it('reads the first interface: references, maps, arrays, scalars', () => {
    const shape = parseShape(PROBE_DTS, '/m/v1/Probe.d.ts');
    assert.deepEqual(shape && [...shape.keys()], ['httpGet', 'limits', 'gates', 'periodSeconds', 'mode']);
    assert.deepEqual(shape?.get('httpGet'), { kind: 'object', file: '/m/v1/HTTPGetAction.d.ts' });
    assert.equal(shape?.get('limits')?.kind, 'map');
    assert.deepEqual(shape?.get('gates'), { kind: 'array', item: { kind: 'object', file: '/m/v1/HTTPGetAction.d.ts' } });
    assert.deepEqual(shape?.get('periodSeconds'), { kind: 'scalar' });
    assert.deepEqual(shape?.get('mode'), { kind: 'scalar' });
  });

  it('has no shape for a type alias (IntOrString, Quantity)', () => {
    assert.equal(parseShape('export type IIntOrString = string | number;\n', '/m/IntOrString.d.ts'), undefined);
  });

  it('finds unknown fields at every depth, through arrays but not inside maps', () => {
    const shapes: Record<string, Shape> = {
      '/m/v1/Probe.d.ts': parseShape(PROBE_DTS, '/m/v1/Probe.d.ts'),
      '/m/v1/HTTPGetAction.d.ts': new Map([['path', { kind: 'scalar' }], ['port', { kind: 'scalar' }]]),
    };
    const load = (file: string) => shapes[file];
    const probe = shapes['/m/v1/Probe.d.ts'];
    assert.deepEqual(unknownFields({ httpGet: { path: '/readyz', port: 3000 }, limits: { anything: '1' }, periodSeconds: 2 }, probe, '', load), []);
    assert.deepEqual(
      unknownFields({ httpGet: { pth: '/readyz' }, gates: [{ path: '/' }, { prot: 1 }], periodSecond: 2 }, probe, '', load),
      ['/httpGet/pth: unknown field', '/gates/1/prot: unknown field', '/periodSecond: unknown field'],
    );
  });
});

describe('against the pinned kubernetes-models', () => {
  const deployment = (): K8sObject => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'server', labels: { a: 'b' } },
    spec: {
      selector: { matchLabels: { a: 'b' } },
      template: {
        metadata: { labels: { a: 'b' } },
        spec: {
          topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', matchLabelKeys: ['pod-template-hash'] }],
          containers: [{ name: 'server', image: 'x', readinessProbe: { httpGet: { path: '/readyz', port: 'http' } }, resources: { limits: { memory: '1Gi' } } }],
        },
      },
    },
  });

  it('accepts a correct Deployment', async () => {
    assert.deepEqual(unknownFieldProblems(deployment()), []);
    assert.deepEqual(await schemaProblems(deployment()), []);
  });

  it('flags the typos the schema lets through', async () => {
    // biome-ignore lint/suspicious/noExplicitAny: test-only fixture access
    const broken = deployment() as K8sObject & { spec: { template: { spec: Record<string, any> }; replica?: number } };
    broken.spec.replica = 3;
    broken.spec.template.spec.containers[0].readinesProbe = broken.spec.template.spec.containers[0].readinessProbe;
    broken.spec.template.spec.topologySpreadConstraints[0].matchLabelKey = ['pod-template-hash'];
    broken.metadata = { name: 'server', label: { a: 'b' } } as K8sObject['metadata'];
    assert.deepEqual(await schemaProblems(broken), [], 'the schema alone does not see them: the reason for the strict-keys check');
    assert.deepEqual(unknownFieldProblems(broken).sort(), [
      'Deployment/server: /metadata/label: unknown field',
      'Deployment/server: /spec/replica: unknown field',
      'Deployment/server: /spec/template/spec/containers/0/readinesProbe: unknown field',
      'Deployment/server: /spec/template/spec/topologySpreadConstraints/0/matchLabelKey: unknown field',
    ]);
  });

  it('flags schema violations and unknown kinds', async () => {
    // biome-ignore lint/suspicious/noExplicitAny: test-only fixture access
    const wrong = deployment() as K8sObject & { spec: { template: { spec: Record<string, any> } } };
    wrong.spec.template.spec.containers[0].ports = [{ containerPort: 'http' }];
    assert.match((await schemaProblems(wrong)).join('\n'), /Deployment\/server: \/spec\/template\/spec\/containers\/0\/ports\/0\/containerPort must be integer/);
    const removed: K8sObject = { apiVersion: 'extensions/v1beta1', kind: 'Ingress', metadata: { name: 'x' } };
    assert.match((await schemaProblems(removed)).join('\n'), /extensions\/v1beta1 is no longer served \(removed in Kubernetes 1.22\)/);
    const unknown: K8sObject = { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'x' } };
    assert.match((await schemaProblems(unknown)).join('\n'), /no schema for example.com\/v1 Widget/);
    assert.match(unknownFieldProblems(unknown).join('\n'), /no field list for example.com\/v1 Widget/);
    assert.match((await schemaProblems({ apiVersion: '../../etc', kind: 'passwd' })).join('\n'), /no schema/);
  });
});
