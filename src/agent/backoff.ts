/** Reconnect delays: exponential backoff with full jitter, capped. */

export interface BackoffOptions {
  baseMs: number;
  capMs: number;
  random?: () => number;
}

/**
 * Full-jitter backoff: attempt n waits a uniform random time in
 * [0, min(cap, base * 2^n)], which spreads a reconnect storm after a relay
 * restart instead of synchronising it.
 *
 * @example
 * ```ts
 * const backoff = new Backoff({ baseMs: 200, capMs: 10_000 });
 * await sleep(backoff.next());
 * backoff.reset(); // after a connection that worked
 * ```
 */
export class Backoff {
  #attempt = 0;
  #options: Required<BackoffOptions>;

  constructor(options: BackoffOptions) {
    this.#options = { random: Math.random, ...options };
  }

  /** The delay before the next attempt. */
  next(): number {
    const { baseMs, capMs, random } = this.#options;
    const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(this.#attempt, 30));
    this.#attempt++;
    return Math.round(random() * ceiling);
  }

  reset(): void {
    this.#attempt = 0;
  }
}

/** Sleeps, returning early when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
