/**
 * Counts per label value in plain integers and hands them to a prom-client
 * Counter only when the Counter is collected (a scrape). prom-client's
 * `inc({ event })` hashes and validates the label object on every call; on
 * the delivery path that is once per recipient of every broadcast, so the
 * hot path here is an increment of a Map entry instead.
 */
export class LabelTally {
  readonly #pending = new Map<string, number>();

  /** Count one (or `n`) for `value`. */
  add(value: string, n = 1): void {
    this.#pending.set(value, (this.#pending.get(value) ?? 0) + n);
  }

  /**
   * Hand every pending count to `inc` (a Counter's, from its `collect()`)
   * and start again from zero. Values with nothing pending are not passed,
   * so a label value appears in the output only once something was counted,
   * as with direct increments.
   */
  drain(inc: (value: string, n: number) => void): void {
    for (const [value, n] of this.#pending) if (n > 0) inc(value, n);
    this.#pending.clear();
  }
}
