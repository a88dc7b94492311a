/**
 * HDR histograms of latency in microseconds, and the summary the report
 * keeps. Workers send their histograms as compressed base64 (the HDR
 * interchange format); the runner adds them up and keeps the encoded total in
 * results.json so percentiles can be recomputed from the raw data.
 */
import * as hdr from 'hdr-histogram-js';

export type Histogram = hdr.Histogram;

/** 1 µs .. 60 s, 3 significant digits. */
export function newHistogram(): Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });
}

export function recordUs(histogram: Histogram, us: number): void {
  // Clamp: a value out of range would throw in the hot path.
  histogram.recordValue(Math.min(60_000_000, Math.max(1, Math.round(us))));
}

export function encodeHistogram(histogram: Histogram): string {
  return hdr.encodeIntoCompressedBase64(histogram);
}

export function decodeHistogram(encoded: string): Histogram {
  return hdr.decodeFromCompressedBase64(encoded, 32, false);
}

/** Sum of encoded histograms. */
export function mergeEncoded(encoded: readonly string[]): Histogram {
  const total = newHistogram();
  for (const item of encoded) total.add(decodeHistogram(item));
  return total;
}

export interface LatencyStats {
  count: number;
  /** Milliseconds. */
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

const ms = (us: number) => Math.round(us) / 1000;

export function latencyStats(histogram: Histogram): LatencyStats {
  if (histogram.totalCount === 0) return { count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 };
  return {
    count: histogram.totalCount,
    p50: ms(histogram.getValueAtPercentile(50)),
    p90: ms(histogram.getValueAtPercentile(90)),
    p99: ms(histogram.getValueAtPercentile(99)),
    p999: ms(histogram.getValueAtPercentile(99.9)),
    max: ms(histogram.maxValue),
    mean: ms(histogram.mean),
  };
}

/** Percentile curve for charts: [percentile, ms] at fixed points from 0 to 99.99. */
export const CURVE_PERCENTILES = [0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.99] as const;

export function percentileCurve(histogram: Histogram): Array<[number, number]> {
  if (histogram.totalCount === 0) return [];
  return CURVE_PERCENTILES.map((p) => [p, ms(histogram.getValueAtPercentile(p))]);
}
