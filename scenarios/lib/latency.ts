import * as hdr from 'hdr-histogram-js';

export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

/**
 * Latency recorder in milliseconds with microsecond resolution, backed by an
 * HDR histogram so percentiles stay exact-enough without keeping samples.
 */
export class LatencyRecorder {
  private readonly histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });

  recordMs(ms: number): void {
    this.histogram.recordValue(Math.max(1, Math.round(ms * 1000)));
  }

  summary(): LatencySummary {
    const h = this.histogram;
    const ms = (us: number) => Math.round(us) / 1000;
    return {
      count: h.totalCount,
      p50: h.totalCount ? ms(h.getValueAtPercentile(50)) : 0,
      p99: h.totalCount ? ms(h.getValueAtPercentile(99)) : 0,
      max: h.totalCount ? ms(h.maxValue) : 0,
    };
  }
}
