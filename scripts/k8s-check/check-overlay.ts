import { ruleProblems } from './manifest-rules.ts';
import { renderOverlay } from './render-overlay.ts';
import { replicaFacts } from './replica-facts.ts';
import { schemaProblems } from './schema-problems.ts';
import { unknownFieldProblems } from './unknown-fields.ts';

export interface OverlayReport {
  dir: string;
  objects: number;
  /** Empty when the overlay passes. */
  problems: string[];
}

/** Render one overlay, then schema, strict keys and the rules over what it renders. */
export async function checkOverlay(dir: string, kubectl?: string): Promise<OverlayReport> {
  let objects: Awaited<ReturnType<typeof renderOverlay>>;
  try {
    objects = await renderOverlay(dir, kubectl);
  } catch (error) {
    return { dir, objects: 0, problems: [`render: ${error instanceof Error ? error.message : String(error)}`] };
  }
  const problems: string[] = [];
  if (objects.length === 0) problems.push('render: the overlay renders no object');
  for (const object of objects) {
    problems.push(...(await schemaProblems(object)).map((problem) => `schema: ${problem}`));
    problems.push(...unknownFieldProblems(object).map((problem) => `fields: ${problem}`));
  }
  problems.push(...ruleProblems(objects, replicaFacts()));
  return { dir, objects: objects.length, problems };
}
