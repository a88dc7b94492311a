/**
 * Hand-written SVG charts: a line chart (latency percentile curves, values
 * against replicas) and a horizontal bar chart. No dependencies; pure
 * functions from numbers to SVG text.
 */

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

const fmt = (value: number) => (Math.abs(value) >= 100 ? value.toFixed(0) : Math.abs(value) >= 10 ? value.toFixed(1) : value.toFixed(2));

/** "Nice" tick values covering [0, max]. */
export function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let v = 0; v <= max + step * 0.999 && ticks.length < 50; v += step) ticks.push(Math.round(v * 1e9) / 1e9);
  return ticks;
}

export interface Series {
  name: string;
  points: ReadonlyArray<readonly [number, number]>;
}

export interface LineChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  /** Fixed x ticks as [value, label]; default: nice ticks of the data. */
  xTicks?: ReadonlyArray<readonly [number, string]>;
  width?: number;
  height?: number;
}

export function lineChart(spec: LineChartSpec): string {
  const width = spec.width ?? 760;
  const height = spec.height ?? 420;
  const margin = { left: 70, right: 200, top: 40, bottom: 55 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const xs = spec.series.flatMap((s) => s.points.map(([x]) => x));
  const ys = spec.series.flatMap((s) => s.points.map(([, y]) => y));
  const xTicks = spec.xTicks ?? niceTicks(Math.max(...xs, 1)).map((v) => [v, fmt(v)] as const);
  const xMin = Math.min(...xTicks.map(([v]) => v), ...xs);
  const xMax = Math.max(...xTicks.map(([v]) => v), ...xs);
  const yTicks = niceTicks(Math.max(...ys, 0));
  const yMax = yTicks[yTicks.length - 1]!;
  const x = (v: number) => margin.left + (xMax > xMin ? ((v - xMin) / (xMax - xMin)) * plotW : plotW / 2);
  const y = (v: number) => margin.top + plotH - (yMax > 0 ? (v / yMax) * plotH : 0);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(spec.title)}</text>`,
  );
  for (const tick of yTicks) {
    out.push(
      `<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${y(tick)}" y2="${y(tick)}" stroke="#ddd"/>`,
      `<text x="${margin.left - 6}" y="${y(tick) + 4}" text-anchor="end">${fmt(tick)}</text>`,
    );
  }
  for (const [value, label] of xTicks) {
    out.push(
      `<line x1="${x(value)}" x2="${x(value)}" y1="${margin.top}" y2="${margin.top + plotH}" stroke="#eee"/>`,
      `<text x="${x(value)}" y="${margin.top + plotH + 18}" text-anchor="middle">${escapeXml(label)}</text>`,
    );
  }
  out.push(
    `<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`,
    `<text x="${margin.left + plotW / 2}" y="${height - 12}" text-anchor="middle">${escapeXml(spec.xLabel)}</text>`,
    `<text transform="translate(18 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(spec.yLabel)}</text>`,
  );
  spec.series.forEach((series, i) => {
    const color = PALETTE[i % PALETTE.length]!;
    if (series.points.length > 0) {
      const d = series.points.map(([px, py], j) => `${j === 0 ? 'M' : 'L'}${x(px).toFixed(1)},${y(py).toFixed(1)}`).join(' ');
      out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
      for (const [px, py] of series.points) {
        out.push(`<circle cx="${x(px).toFixed(1)}" cy="${y(py).toFixed(1)}" r="3" fill="${color}"/>`);
      }
    }
    const ly = margin.top + 10 + i * 18;
    out.push(
      `<line x1="${margin.left + plotW + 12}" x2="${margin.left + plotW + 32}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="3"/>`,
      `<text x="${margin.left + plotW + 38}" y="${ly + 4}">${escapeXml(series.name)}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

export interface Bar {
  label: string;
  value: number;
  /** Stacked segments (same order in every bar, named in the legend); their sum should be `value`. */
  parts?: readonly number[];
  /** Shown after the bar instead of the value. */
  note?: string;
}

export function barChart(spec: {
  title: string;
  unit: string;
  bars: readonly Bar[];
  /** Names of the stacked segments, for the legend. */
  partNames?: readonly string[];
  width?: number;
}): string {
  const width = spec.width ?? 760;
  const rowH = 26;
  const legend = spec.partNames?.length ? 24 : 0;
  const margin = { left: 230, right: 120, top: 42 + legend, bottom: 30 };
  const height = margin.top + margin.bottom + rowH * Math.max(1, spec.bars.length);
  const plotW = width - margin.left - margin.right;
  const max = Math.max(...spec.bars.map((b) => b.value), 0);
  const ticks = niceTicks(max);
  const top = ticks[ticks.length - 1]!;
  const x = (v: number) => margin.left + (top > 0 ? (v / top) * plotW : 0);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(spec.title)}</text>`,
  ];
  for (const tick of ticks) {
    out.push(
      `<line x1="${x(tick)}" x2="${x(tick)}" y1="${margin.top - 4}" y2="${height - margin.bottom}" stroke="#e5e5e5"/>`,
      `<text x="${x(tick)}" y="${height - margin.bottom + 16}" text-anchor="middle">${fmt(tick)}</text>`,
    );
  }
  (spec.partNames ?? []).forEach((name, j) => {
    const lx = margin.left + j * 150;
    out.push(
      `<rect x="${lx}" y="34" width="14" height="12" fill="${PALETTE[j % PALETTE.length]}"/>`,
      `<text x="${lx + 20}" y="45">${escapeXml(name)}</text>`,
    );
  });
  spec.bars.forEach((bar, i) => {
    const yTop = margin.top + i * rowH;
    out.push(`<text x="${margin.left - 8}" y="${yTop + rowH / 2 + 4}" text-anchor="end">${escapeXml(bar.label)}</text>`);
    if (bar.parts && bar.parts.length > 0) {
      let start = 0;
      bar.parts.forEach((part, j) => {
        const w = Math.max(0, x(start + part) - x(start));
        out.push(
          `<rect x="${x(start).toFixed(1)}" y="${yTop + 4}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${PALETTE[j % PALETTE.length]}"/>`,
        );
        start += part;
      });
    } else {
      out.push(
        `<rect x="${margin.left}" y="${yTop + 4}" width="${Math.max(0, x(bar.value) - margin.left).toFixed(1)}" height="${rowH - 8}" fill="${PALETTE[i % PALETTE.length]}"/>`,
      );
    }
    out.push(`<text x="${x(bar.value) + 6}" y="${yTop + rowH / 2 + 4}">${escapeXml(bar.note ?? `${fmt(bar.value)} ${spec.unit}`)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** x position of a percentile on a "nines" axis: 0 → 0, 90 → 1, 99 → 2, 99.9 → 3. */
export function ninesAxis(percentile: number): number {
  return -Math.log10(Math.max(1e-6, 1 - percentile / 100));
}

export const NINES_TICKS: ReadonlyArray<readonly [number, string]> = [
  [ninesAxis(0), 'p0'],
  [ninesAxis(50), 'p50'],
  [ninesAxis(90), 'p90'],
  [ninesAxis(99), 'p99'],
  [ninesAxis(99.9), 'p99.9'],
  [ninesAxis(99.99), 'p99.99'],
];
