import type { ScenarioResult } from './scenario.ts';

/** The documented --json shape: {"scenarios":[{"name","ok","metrics":{…}}]} plus details. */
export interface ScenarioReport {
  topology: { kind: string; proxy: string; adapter: string; redis?: string; replicas: number; clients: number; tls?: boolean };
  ok: boolean;
  scenarios: ScenarioResult[];
}

export function buildReport(topology: ScenarioReport['topology'], scenarios: ScenarioResult[]): ScenarioReport {
  return { topology, ok: scenarios.every((s) => s.ok), scenarios };
}

function verdict(result: ScenarioResult): string {
  if (result.skipped) return 'SKIP';
  return result.ok ? 'PASS' : 'FAIL';
}

function formatMetrics(metrics: ScenarioResult['metrics']): string {
  return Object.entries(metrics)
    .map(([key, value]) => `${key}=${value}`)
    .join(' ');
}

/** A plain-text table: one row per scenario, failures listed under their row. */
export function formatTable(report: ScenarioReport): string {
  const rows = report.scenarios.map((r) => [r.name, verdict(r), `${(r.durationMs / 1000).toFixed(1)}s`, r.skipped ?? formatMetrics(r.metrics)]);
  const header = ['scenario', 'result', 'time', 'counts'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const widthOf = (i: number) => (i === header.length - 1 ? 0 : widths[i]!);
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widthOf(i))).join('  ').trimEnd();
  const out = [line(header), line(widths.map((w, i) => '-'.repeat(i === header.length - 1 ? 5 : w)))];
  report.scenarios.forEach((result, i) => {
    out.push(line(rows[i]!));
    for (const failure of result.failures) out.push(`    ✗ ${failure}`);
  });
  const { kind, proxy, adapter, redis = 'standalone', replicas, clients, tls = false } = report.topology;
  const skipped = report.scenarios.filter((s) => s.skipped).length;
  const passed = report.scenarios.filter((s) => s.ok && !s.skipped).length;
  const failed = report.scenarios.filter((s) => !s.ok).length;
  out.push('');
  out.push(
    `${passed} passed, ${failed} failed, ${skipped} skipped (topology=${kind} proxy=${proxy} adapter=${adapter} redis=${redis} replicas=${replicas} clients=${clients}${tls ? ' tls' : ''})`,
  );
  return out.join('\n');
}
