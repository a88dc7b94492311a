/**
 * Groups a replica's deliveries by message to observe each cluster-wide
 * message's local fan-out once. A broadcast reaches a replica's local
 * clients in one synchronous loop (the adapter's apply()), handing every
 * recipient the same message object, so counting until the next microtask
 * gives exactly that message's local fan-out. The common case (the next
 * delivery is of the same message as the last one) costs a reference
 * comparison and an increment; only a new message looks its id up.
 */
export class FanoutTally {
  readonly #pending = new Map<string, { event: string; count: number }>();
  readonly #observe: (event: string, count: number) => void;
  readonly #schedule: (flush: () => void) => void;
  #lastMessage: object | undefined;
  #lastEntry: { event: string; count: number } | undefined;

  /**
   * @param observe called once per message (at the next microtask) with its event and local recipient count
   * @param schedule runs the flush later; queueMicrotask unless a test drives it
   */
  constructor(observe: (event: string, count: number) => void, schedule: (flush: () => void) => void = queueMicrotask) {
    this.#observe = observe;
    this.#schedule = schedule;
  }

  /** One delivery of `message` (the emitted payload) under `event`; payloads without a string `id` are not grouped. */
  count(event: string, message: unknown): void {
    if (message === this.#lastMessage && this.#lastEntry) {
      this.#lastEntry.count += 1;
      return;
    }
    const id = typeof message === 'object' && message !== null ? (message as { id?: unknown }).id : undefined;
    if (typeof id !== 'string') return;
    let entry = this.#pending.get(id);
    if (entry) entry.count += 1;
    else {
      if (this.#pending.size === 0) this.#schedule(this.flush);
      entry = { event, count: 1 };
      this.#pending.set(id, entry);
    }
    this.#lastMessage = message as object;
    this.#lastEntry = entry;
  }

  /** Observe every pending message's fan-out and forget them (bound: safe to pass as a callback). */
  readonly flush = (): void => {
    for (const { event, count } of this.#pending.values()) this.#observe(event, count);
    this.#pending.clear();
    this.#lastMessage = undefined;
    this.#lastEntry = undefined;
  };
}
