/** Lock-out rules for wrong passwords (counted in the store), and a per-source request rate limit. */

/**
 * How wrong guesses on one key lock it out: after `freeFailures` each further failure
 * locks the key for twice as long as the last (from `baseDelayMs` up to `maxDelayMs`).
 * The failures themselves are counted in the store (`Store.takeAttempt`), before each
 * guess is evaluated, so concurrent guesses, a restart or another node cannot reset them.
 */
export interface AttemptRule {
  freeFailures: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * The lock-out that the `failures`-th counted attempt earns under `rule` (0 while free).
 *
 * @example
 * ```ts
 * lockoutMs({ freeFailures: 3 }, 4); // 1000
 * lockoutMs({ freeFailures: 3 }, 5); // 2000
 * ```
 */
export function lockoutMs(rule: AttemptRule, failures: number): number {
  const over = failures - rule.freeFailures;
  if (over <= 0) return 0;
  const base = rule.baseDelayMs ?? 1_000;
  const max = rule.maxDelayMs ?? 15 * 60_000;
  return Math.min(max, base * 2 ** Math.min(over - 1, 40));
}

/** Attempt rows untouched this long are forgotten (a lock-out never outlives its last attempt by more). */
export const ATTEMPT_KEEP_MS = 24 * 60 * 60 * 1000;

/**
 * At most `limit` requests per key in any `windowMs` (a sliding log per key), for
 * endpoints that create state for anyone who asks (`/oauth/device_authorization`).
 * Keys are bounded: past `maxKeys`, keys whose window has passed are dropped, and if
 * none has, the request is refused rather than memory grown.
 *
 * @example
 * ```ts
 * const limiter = new RequestRateLimiter({ now: Date.now, limit: 10, windowMs: 60_000 });
 * if (limiter.retryAfterMs(peer) > 0) return tooManyRequests();
 * ```
 */
export class RequestRateLimiter {
  #hits = new Map<string, number[]>();
  #now: () => number;
  #limit: number;
  #windowMs: number;
  #maxKeys: number;

  constructor(options: { now: () => number; limit: number; windowMs: number; maxKeys?: number }) {
    this.#now = options.now;
    this.#limit = options.limit;
    this.#windowMs = options.windowMs;
    this.#maxKeys = options.maxKeys ?? 100_000;
  }

  /** Records a request for `key`; returns 0 when it may proceed, else the milliseconds to wait. */
  retryAfterMs(key: string): number {
    const now = this.#now();
    const since = now - this.#windowMs;
    const hits = (this.#hits.get(key) ?? []).filter((t) => t > since);
    if (hits.length >= this.#limit) {
      this.#hits.set(key, hits);
      return Math.max(1, hits[0] + this.#windowMs - now);
    }
    if (!this.#hits.has(key) && this.#hits.size >= this.#maxKeys) {
      this.#evict(since);
      if (this.#hits.size >= this.#maxKeys) return this.#windowMs;
    }
    hits.push(now);
    this.#hits.set(key, hits);
    return 0;
  }

  #evict(since: number): void {
    for (const [key, hits] of this.#hits) {
      if (hits[hits.length - 1] <= since) this.#hits.delete(key);
    }
  }
}

/** Wrong-password lock-outs: one per (machine, source), and a looser one per machine. */
export interface PasswordLimiters {
  perSource: AttemptRule;
  perMachine: AttemptRule;
}
