import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isRecord, type K8sObject, objectRef } from './k8s-object.ts';
import { APIMACHINERY_DIR, modelLocation } from './model-location.ts';

/**
 * The strict-keys check the schema validators do not make: every field of
 * an object must be one its kind declares, at every depth. A typo such as
 * `readinesProbe` or `sessionAfinity` passes Kubernetes' schema (unknown
 * fields are dropped by the API server, with a warning at best) and silently
 * turns the feature off.
 *
 * The field lists come from the same package as the validators: each type
 * of `kubernetes-models` has a .d.ts whose first interface lists its fields,
 * with the type of each (another interface, imported from a sibling file;
 * `Array<...>`; a `{ [key: string]: ... }` map; or a scalar).
 */

export type FieldType =
  | { kind: 'object'; file: string }
  | { kind: 'array'; item: FieldType }
  | { kind: 'map'; value: FieldType }
  | { kind: 'scalar' };

/** A type's fields, or undefined for a type with none of its own (IntOrString, Quantity, Time: scalars). */
export type Shape = ReadonlyMap<string, FieldType> | undefined;

const APIMACHINERY_PREFIX = '@kubernetes-models/apimachinery/';

/** Strip comments, so `{`, `;` and quotes inside doc comments do not count. */
function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
}

/** Index just past the bracket that closes the one opening at `open`. */
function closingIndex(text: string, open: number): number {
  let depth = 0;
  for (let index = open; index < text.length; index += 1) {
    const char = text[index];
    if (char === '{' || char === '<' || char === '(') depth += 1;
    if (char === '}' || char === '>' || char === ')') depth -= 1;
    if (depth === 0) return index + 1;
  }
  throw new SyntaxError('unbalanced brackets');
}

/** Split `"a"?: T; "b": { [key: string]: U; };` at the semicolons of depth 0. */
function members(body: string): Array<{ name: string; type: string }> {
  const result: Array<{ name: string; type: string }> = [];
  const head = /\s*"([^"]+)"\??:\s*/y;
  let position = 0;
  for (;;) {
    head.lastIndex = position;
    const match = head.exec(body);
    if (!match || match[1] === undefined) break;
    let index = head.lastIndex;
    let depth = 0;
    for (; index < body.length; index += 1) {
      const char = body[index];
      if (char === '{' || char === '<' || char === '(') depth += 1;
      if (char === '}' || char === '>' || char === ')') depth -= 1;
      if (char === ';' && depth === 0) break;
    }
    result.push({ name: match[1], type: body.slice(head.lastIndex, index).trim() });
    position = index + 1;
  }
  return result;
}

/** Parse one .d.ts's first interface into its fields (pure: the text and its own path in, no I/O). */
export function parseShape(text: string, file: string): Shape {
  const source = stripComments(text);
  const start = /export interface I\w+(?:\s+extends\s+[\w\s,]+)?\s*\{/.exec(source);
  if (!start) return undefined;
  const open = start.index + start[0].length - 1;
  const body = source.slice(open + 1, closingIndex(source, open) - 1);
  const imports = new Map<string, string>();
  for (const match of source.matchAll(/import\s*\{([^}]*)\}\s*from\s*"([^"]+)"/g)) {
    for (const name of (match[1] ?? '').split(',').map((part) => part.trim())) {
      if (name !== '') imports.set(name, match[2] ?? '');
    }
  }
  const resolveImport = (from: string): string | undefined => {
    if (from.startsWith('.')) return join(dirname(file), from.replace(/\.js$/, '.d.ts'));
    if (from.startsWith(APIMACHINERY_PREFIX)) return join(APIMACHINERY_DIR, `${from.slice(APIMACHINERY_PREFIX.length)}.d.ts`);
    return undefined;
  };
  const typeOf = (type: string): FieldType => {
    const array = /^Array<([\s\S]*)>$/.exec(type);
    if (array?.[1] !== undefined) return { kind: 'array', item: typeOf(array[1].trim()) };
    const map = /^\{\s*\[key: string\]:\s*([\s\S]*?);?\s*\}$/.exec(type);
    if (map?.[1] !== undefined) return { kind: 'map', value: typeOf(map[1].trim()) };
    const from = /^[A-Za-z_]\w*$/.test(type) ? imports.get(type) : undefined;
    const target = from === undefined ? undefined : resolveImport(from);
    return target === undefined ? { kind: 'scalar' } : { kind: 'object', file: target };
  };
  return new Map(members(body).map(({ name, type }) => [name, typeOf(type)]));
}

const shapes = new Map<string, Shape>();
function shapeOf(file: string): Shape {
  if (!shapes.has(file)) shapes.set(file, parseShape(readFileSync(file, 'utf8'), file));
  return shapes.get(file);
}

/** Unknown fields of `value` against `shape`, at `path` (JSON-pointer-like, for messages). */
export function unknownFields(value: unknown, shape: Shape, path: string, loadShape: (file: string) => Shape = shapeOf): string[] {
  if (shape === undefined || !isRecord(value)) return [];
  const problems: string[] = [];
  for (const [key, child] of Object.entries(value)) {
    const type = shape.get(key);
    if (type === undefined) {
      problems.push(`${path}/${key}: unknown field`);
      continue;
    }
    problems.push(...unknownInType(child, type, `${path}/${key}`, loadShape));
  }
  return problems;
}

function unknownInType(value: unknown, type: FieldType, path: string, loadShape: (file: string) => Shape): string[] {
  switch (type.kind) {
    case 'scalar':
      return [];
    case 'object':
      return unknownFields(value, loadShape(type.file), path, loadShape);
    case 'array':
      return Array.isArray(value) ? value.flatMap((item, index) => unknownInType(item, type.item, `${path}/${index}`, loadShape)) : [];
    case 'map':
      return isRecord(value) ? Object.entries(value).flatMap(([key, item]) => unknownInType(item, type.value, `${path}/${key}`, loadShape)) : [];
  }
}

/** Every unknown field of a rendered object, or why its kind cannot be checked. */
export function unknownFieldProblems(object: K8sObject): string[] {
  const where = objectRef(object);
  const location = modelLocation(object.apiVersion, object.kind);
  let shape: Shape;
  try {
    shape = location ? shapeOf(location.declarationFile) : undefined;
  } catch {
    shape = undefined;
  }
  if (shape === undefined) return [`${where}: no field list for ${object.apiVersion} ${object.kind}`];
  return unknownFields(object, shape, '').map((problem) => `${where}: ${problem}`);
}
