/** FailureLimiter: growing lock-outs after repeated wrong passwords, per key. */

interface Entry {
  failures: number;
  lockedUntilMs: number;
}

/**
 * Counts failures per key; after `freeFailures` each further failure locks the
 * key for twice as long as the last (from `baseDelayMs` up to `maxDelayMs`).
 *
 * @example
 * ```ts
 * const limiter = new FailureLimiter({ now: Date.now });
 * const wait = limiter.retryAfterMs("m1|10.0.0.1"); // 0 when allowed now
 * ```
 */
export class FailureLimiter {
  #entries = new Map<string, Entry>();
  #now: () => number;
  #freeFailures: number;
  #baseDelayMs: number;
  #maxDelayMs: number;

  constructor(options: {
    now: () => number;
    freeFailures?: number;
    baseDelayMs?: number;
    maxDelayMs?: number;
  }) {
    this.#now = options.now;
    this.#freeFailures = options.freeFailures ?? 3;
    this.#baseDelayMs = options.baseDelayMs ?? 1_000;
    this.#maxDelayMs = options.maxDelayMs ?? 15 * 60_000;
  }

  /** Milliseconds until the key may try again; 0 when it may now. */
  retryAfterMs(key: string): number {
    const entry = this.#entries.get(key);
    if (!entry) return 0;
    return Math.max(0, entry.lockedUntilMs - this.#now());
  }

  /** Records a failure and returns the lock-out it earned (0 while still free). */
  fail(key: string): number {
    const entry = this.#entries.get(key) ?? { failures: 0, lockedUntilMs: 0 };
    entry.failures++;
    const over = entry.failures - this.#freeFailures;
    const delay = over <= 0 ? 0 : Math.min(this.#maxDelayMs, this.#baseDelayMs * 2 ** (over - 1));
    entry.lockedUntilMs = this.#now() + delay;
    this.#entries.set(key, entry);
    if (this.#entries.size > 100_000) this.#evictOldest();
    return delay;
  }

  /** Forgets the key's failures (after a success). */
  succeed(key: string): void {
    this.#entries.delete(key);
  }

  #evictOldest(): void {
    const now = this.#now();
    for (const [key, entry] of this.#entries) {
      if (entry.lockedUntilMs < now) this.#entries.delete(key);
    }
  }
}
