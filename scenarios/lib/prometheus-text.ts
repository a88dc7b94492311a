/** One sample of Prometheus' text exposition format: `name{labels} value`. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE_START = /^([A-Za-z_:][A-Za-z0-9_:]*)/;

/** Like Go's ParseFloat, which Prometheus uses: NaN and Inf in any case (prom-client writes "Nan"). */
function parseValue(text: string): number {
  const lower = text.toLowerCase();
  if (lower === 'nan') return Number.NaN;
  if (lower === '+inf' || lower === 'inf') return Number.POSITIVE_INFINITY;
  if (lower === '-inf') return Number.NEGATIVE_INFINITY;
  const value = Number(text);
  if (text === '' || Number.isNaN(value)) throw new Error('bad sample value');
  return value;
}

/** `{a="x",b="y\"z"}` starting at `line[start]`; returns the labels and where the value begins. */
function parseLabels(line: string, start: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = start + 1;
  for (;;) {
    while (line[i] === ' ' || line[i] === ',') i++;
    if (line[i] === '}') return { labels, end: i + 1 };
    const eq = line.indexOf('=', i);
    if (eq < 0 || line[eq + 1] !== '"') throw new Error(`bad label at ${i}: ${line}`);
    const name = line.slice(i, eq).trim();
    let value = '';
    let j = eq + 2;
    for (; j < line.length && line[j] !== '"'; j++) {
      if (line[j] === '\\') {
        j++;
        value += line[j] === 'n' ? '\n' : (line[j] ?? '');
      } else value += line[j];
    }
    if (j >= line.length) throw new Error(`unterminated label value: ${line}`);
    labels[name] = value;
    i = j + 1;
  }
}

/**
 * Parse Prometheus' text format (what prom-client and HAProxy's exporter
 * write). Comments and blank lines are skipped; a malformed line throws,
 * naming the line.
 */
export function parsePrometheusText(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = SAMPLE_START.exec(line);
    if (!match) throw new Error(`not a Prometheus sample: ${line}`);
    const name = match[1]!;
    let rest = name.length;
    let labels: Record<string, string> = {};
    if (line[rest] === '{') {
      const parsed = parseLabels(line, rest);
      labels = parsed.labels;
      rest = parsed.end;
    }
    const [valueText] = line.slice(rest).trim().split(/\s+/, 1);
    let value: number;
    try {
      value = parseValue(valueText ?? '');
    } catch {
      throw new Error(`bad sample value: ${line}`);
    }
    samples.push({ name, labels, value });
  }
  return samples;
}

/** Sum of the samples called `name` whose labels include every pair in `where`. */
export function sumSamples(samples: readonly Sample[], name: string, where: Readonly<Record<string, string>> = {}): number {
  let sum = 0;
  for (const sample of samples) {
    if (sample.name !== name) continue;
    if (Object.entries(where).every(([key, value]) => sample.labels[key] === value)) sum += sample.value;
  }
  return sum;
}
