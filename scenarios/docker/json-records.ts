/**
 * Parse the JSON that docker commands print with `--format json` /
 * `--format '{{json .}}'`, whichever of its two shapes this CLI version uses:
 *
 * - one JSON array of objects (`docker compose ps --format json` before
 *   Compose 2.21, `docker inspect`);
 * - newline-delimited JSON, one object per line (`docker compose ps` since
 *   2.21, `docker ps`, `docker service ps --format '{{json .}}'`).
 *
 * Empty output is an empty list (no containers). Anything else that is not
 * JSON objects throws, naming the offending line.
 */
export function parseJsonRecords(text: string, what = 'docker output'): Record<string, unknown>[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  if (trimmed.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (error) {
      throw new SyntaxError(`${what}: not a JSON array (${(error as Error).message})`);
    }
    if (!Array.isArray(parsed)) throw new SyntaxError(`${what}: expected a JSON array`);
    return parsed.map((item, index) => asRecord(item, `${what}, element ${index}`));
  }
  return trimmed
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .flatMap((line, index) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch (error) {
        throw new SyntaxError(`${what}: line ${index + 1} is not JSON (${(error as Error).message}): ${line.slice(0, 200)}`);
      }
      // Some versions print `[]` (or a one-line array) even in line mode.
      if (Array.isArray(parsed)) return parsed.map((item, inner) => asRecord(item, `${what}, line ${index + 1}[${inner}]`));
      return [asRecord(parsed, `${what}, line ${index + 1}`)];
    });
}

function asRecord(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SyntaxError(`${where}: expected a JSON object`);
  }
  return value as Record<string, unknown>;
}

/** Field readers that tolerate the casing / typing drift between docker versions. */
export function stringField(record: Record<string, unknown>, ...names: string[]): string {
  for (const name of names) {
    const value = record[name];
    if (typeof value === 'string') return value;
    if (typeof value === 'number') return String(value);
  }
  return '';
}

export function numberField(record: Record<string, unknown>, ...names: string[]): number | undefined {
  for (const name of names) {
    const value = record[name];
    if (typeof value === 'number') return value;
    if (typeof value === 'string' && /^\d+$/.test(value)) return Number(value);
  }
  return undefined;
}

export function recordField(record: Record<string, unknown>, name: string): Record<string, unknown> {
  const value = record[name];
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}
