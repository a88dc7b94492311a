/**
 * Line-level edits of prometheus/alerts.yml and a reader of promtool's
 * failure report, so tests can break one expression in a copy and see
 * `promtool test rules` notice. Pure: text in, text out.
 */

const ALERT_LINE = /^(\s*)- alert:\s*(\S+)\s*$/;
const EXPR_LINE = /^(\s*)expr:/;

/** Alert names in file order. */
export function alertNames(rules: string): string[] {
  return rules.split('\n').flatMap((line) => {
    const match = ALERT_LINE.exec(line);
    return match ? [match[2]!] : [];
  });
}

/** The expression of every alert (block scalars joined with spaces), by name. */
export function alertExpressions(rules: string): Map<string, string> {
  const found = new Map<string, string>();
  forEachExpr(rules.split('\n'), (name, lines) => {
    const first = lines[0]!.replace(EXPR_LINE, '').trim();
    const body = first === '>-' || first === '|' || first === '>' ? lines.slice(1) : [first, ...lines.slice(1)];
    const text = body.map((l) => l.trim()).join(' ');
    // replaceExpressions writes a YAML double-quoted scalar, which JSON reads.
    found.set(name, text.startsWith('"') ? (JSON.parse(text) as string) : text);
  });
  return found;
}

/**
 * Replace the expression of each alert `replace` returns a string for (the
 * others stay as they are). Multi-line expressions (`expr: >-` and the more
 * indented lines after it) are replaced whole.
 */
export function replaceExpressions(rules: string, replace: (alert: string, expr: string) => string | undefined): string {
  const lines = rules.split('\n');
  const exprs = alertExpressions(rules);
  const out: string[] = [];
  let index = 0;
  forEachExpr(lines, (name, exprLines, start) => {
    out.push(...lines.slice(index, start));
    const replacement = replace(name, exprs.get(name)!);
    if (replacement === undefined) out.push(...exprLines);
    else out.push(`${EXPR_LINE.exec(exprLines[0]!)![1]}expr: ${JSON.stringify(replacement)}`);
    index = start + exprLines.length;
  });
  out.push(...lines.slice(index));
  return out.join('\n');
}

function forEachExpr(lines: readonly string[], visit: (alert: string, exprLines: string[], start: number) => void): void {
  let alert: string | undefined;
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i]!;
    const named = ALERT_LINE.exec(line);
    if (named) {
      alert = named[2];
      continue;
    }
    const expr = EXPR_LINE.exec(line);
    if (!expr || alert === undefined) continue;
    const indent = expr[1]!.length;
    let end = i + 1;
    while (end < lines.length && lines[end]!.trim() !== '' && lines[end]!.length - lines[end]!.trimStart().length > indent) end += 1;
    visit(alert, lines.slice(i, end), i);
    alert = undefined;
    i = end - 1;
  }
}

export interface PromtoolFailure {
  alert: string;
  time: string;
  /** The test expected no alert at that time (a "stays quiet" case). */
  expectedNone: boolean;
  /** Prometheus produced none. */
  gotNone: boolean;
}

/** The failed alert_rule_test cases of `promtool test rules` output. */
export function parsePromtoolFailures(output: string): PromtoolFailure[] {
  const failures: PromtoolFailure[] = [];
  const pattern = /alertname: (\S+), time: ([^,]+),\s*\n\s*exp:(\[\])?[\s\S]*?got:(\[\])?/g;
  for (const match of output.matchAll(pattern)) {
    failures.push({ alert: match[1]!, time: match[2]!, expectedNone: match[3] !== undefined, gotNone: match[4] !== undefined });
  }
  return failures;
}
