/** CreditGate: the sending half of cmdop's credit-based flow control. */

/**
 * Tracks how many bytes the receiver has room for. Senders `await take(n)`
 * before sending; the receiver's credit frames `grant` more. This is what keeps
 * every hop of a relayed stream within a fixed window of memory.
 *
 * @example
 * ```ts
 * const gate = new CreditGate(1 << 20);
 * await gate.take(chunk.length); // waits while the window is used up
 * gate.grant(65536);             // on a credit frame from the receiver
 * ```
 */
export class CreditGate {
  #available: number;
  #ceiling: number;
  #waiters: (() => void)[] = [];
  #closed = false;

  /**
   * `ceiling` bounds the credit a receiver can build up by granting more than
   * it consumed (a peer that lies): never more than that is in flight.
   */
  constructor(initial: number, ceiling = Infinity) {
    this.#ceiling = ceiling;
    this.#available = Math.min(initial, ceiling);
  }

  get available(): number {
    return this.#available;
  }

  /** Returns credit, up to the ceiling; wakes senders waiting for it. */
  grant(bytes: number): void {
    if (!(bytes > 0)) return;
    this.#available = Math.min(this.#available + bytes, this.#ceiling);
    this.#wake();
  }

  /**
   * Waits until some credit is there, then takes `bytes` (the window may go
   * negative by at most one chunk, which keeps chunks whole). Returns false
   * once the gate is closed.
   */
  async take(bytes: number): Promise<boolean> {
    while (this.#available <= 0 && !this.#closed) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    if (this.#closed) return false;
    this.#available -= bytes;
    return true;
  }

  /** Takes `bytes` only if that much credit is left now; never waits, never overshoots. */
  tryTake(bytes: number): boolean {
    if (this.#closed || this.#available < bytes) return false;
    this.#available -= bytes;
    return true;
  }

  /** Releases every waiting sender; later takes return false. */
  close(): void {
    this.#closed = true;
    this.#wake();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}

/**
 * The receiving half: counts consumed bytes and says when to send a credit
 * frame, batching so that credits cost few frames.
 */
export class CreditCounter {
  #pending = 0;
  constructor(readonly batch: number) {}

  /** Records consumed bytes; returns the credit to send now, or 0. */
  consumed(bytes: number): number {
    this.#pending += bytes;
    if (this.#pending < this.batch) return 0;
    const credit = this.#pending;
    this.#pending = 0;
    return credit;
  }
}

/**
 * Default output window per session: large enough for loopback line rate.
 * Measured here, 1 GB through exec: 1 MiB 4.0-5.2 s, 4 MiB 3.6-3.8 s, 16 MiB
 * ~4.0 s (more bytes in flight only add memory and GC work on every hop).
 */
export const DEFAULT_WINDOW_BYTES = 4 * 1024 * 1024;

/**
 * Largest output window a session may ask for: agent and relay clamp
 * `window_bytes` to it, whatever a client sends (20 sessions with a 4 GiB
 * window once grew an agent to 11 GB). Twice the default, which already runs
 * at loopback line rate.
 */
export const MAX_WINDOW_BYTES = 8 * 1024 * 1024;

/**
 * The output window a session gets: what the client asked for (0: the
 * default), clamped to {@linkcode MAX_WINDOW_BYTES}.
 *
 * @example
 * ```ts
 * const gate = new CreditGate(sessionWindow(open.windowBytes), sessionWindow(open.windowBytes));
 * ```
 */
export function sessionWindow(requested: number): number {
  if (!(requested > 0)) return DEFAULT_WINDOW_BYTES;
  return Math.min(requested, MAX_WINDOW_BYTES);
}

/**
 * For a hop between a sender and a receiver (the relay between agent and
 * client): passes on a receiver's credit only as far as it keeps the sender
 * within one window of the bytes actually delivered. An honest receiver
 * credits at most what it consumed, so it is never cut; one that grants
 * credit for bytes it never got is.
 *
 * @example
 * ```ts
 * const cap = new CreditCap(sessionWindow(open.windowBytes));
 * cap.delivered(frame.data.length);          // output on its way to the receiver
 * const credit = cap.pass(creditFromClient); // 0: drop the frame
 * ```
 */
export class CreditCap {
  #granted: number;
  #delivered = 0;

  constructor(readonly window: number) {
    this.#granted = window;
  }

  /** Counts bytes sent on to the receiver. */
  delivered(bytes: number): void {
    this.#delivered += bytes;
  }

  /** The part of `bytes` of credit that may go to the sender. */
  pass(bytes: number): number {
    const room = this.#delivered + this.window - this.#granted;
    const passed = Math.max(0, Math.min(bytes, room));
    this.#granted += passed;
    return passed;
  }
}
