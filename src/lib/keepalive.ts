/** Keepalive: pings a peer at an interval and notices when nothing has been heard from it for too long. */

/** How often sessions and control streams are pinged unless configured otherwise. */
export const DEFAULT_KEEPALIVE_MS = 10_000;
/** Bounds of a configured interval: pings faster than this are waste, slower ones miss proxy idle timeouts. */
export const MIN_KEEPALIVE_MS = 200;
export const MAX_KEEPALIVE_MS = 10 * 60_000;

/**
 * How long the side that pings waits for any frame before giving up: an answer
 * takes a round trip, so one and a half intervals allow one ping to go
 * unanswered only briefly.
 *
 * @example
 * ```ts
 * answerSilenceMs(10_000); // 15_000
 * ```
 */
export function answerSilenceMs(intervalMs: number): number {
  return Math.round(intervalMs * 1.5);
}

/**
 * How long the side that is pinged waits for the next ping: two intervals and
 * some slack, since its pings may sit behind a window of data on a slow link.
 *
 * @example
 * ```ts
 * pingSilenceMs(10_000); // 25_000
 * ```
 */
export function pingSilenceMs(intervalMs: number): number {
  return intervalMs * 2 + 5_000;
}

/**
 * Reads a keepalive interval in seconds (`CMDOP_KEEPALIVE`), with the default when unset.
 * Throws a message naming the variable and the value when it is not a number of seconds
 * within the bounds.
 *
 * @example
 * ```ts
 * const intervalMs = keepaliveFromEnv(Deno.env.get("CMDOP_KEEPALIVE"));
 * ```
 */
export function keepaliveFromEnv(text: string | undefined, name = "CMDOP_KEEPALIVE"): number {
  if (text === undefined || text === "") return DEFAULT_KEEPALIVE_MS;
  // Seconds, as "10" or "10s" (or "500ms"), as the relay's and agent's duration flags take them.
  const unit = /^\s*([0-9.]+)\s*(ms|s)?\s*$/.exec(text);
  const ms = unit ? Math.round(Number(unit[1]) * (unit[2] === "ms" ? 1 : 1000)) : Number.NaN;
  if (!Number.isFinite(ms) || ms < MIN_KEEPALIVE_MS || ms > MAX_KEEPALIVE_MS) {
    throw new Error(
      `${name} "${text}" is not a keepalive interval: give seconds (10, 10s, 500ms) from ` +
        `${MIN_KEEPALIVE_MS / 1000} to ${MAX_KEEPALIVE_MS / 1000}`,
    );
  }
  return ms;
}

/** Options of {@linkcode Keepalive}. */
export interface KeepaliveOptions {
  /** Ping this often; 0 to only watch for silence (the peer pings us). */
  intervalMs: number;
  /** Give up when nothing at all was heard from the peer for this long. */
  silenceMs: number;
  /** A monotonic clock in ms; `performance.now` unless given (wall clocks jump, tests shift them). */
  now?: () => number;
  /** Sends one ping. */
  ping?: () => void;
  /** While true, silence is not the peer's doing (we are not reading it): it is not counted. */
  paused?: () => boolean;
  /** Called once when the peer has been silent for `silenceMs`; the keepalive is then stopped. */
  silent: (silentForMs: number) => void;
}

/**
 * One peer's keepalive. `heard()` is called for every frame received from the
 * peer (data counts as much as an answer). A single timer wakes for the next
 * ping or the silence deadline, whichever is first; `heard()` only stores the
 * time, so a busy stream costs nothing extra. The timers are
 * `AbortSignal.timeout`s: `setTimeout` would load Node's timer module into the
 * CLI's start-up (~3 ms), and they do not keep a process alive.
 *
 * @example
 * ```ts
 * const keepalive = new Keepalive({
 *   intervalMs: 10_000, silenceMs: 15_000,
 *   ping: () => send({ case: "keepalive", value: { sentMs: BigInt(Date.now()) } }),
 *   silent: () => end(new Error("the peer stopped answering")),
 * });
 * // on every frame received: keepalive.heard(); at the end: keepalive.stop();
 * ```
 */
export class Keepalive {
  #options: KeepaliveOptions;
  #now: () => number;
  #lastHeard: number;
  #nextPing: number;
  #stopped = false;
  #generation = 0;

  constructor(options: KeepaliveOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
    const now = this.#now();
    this.#lastHeard = now;
    this.#nextPing = options.intervalMs > 0 ? now + options.intervalMs : Infinity;
    this.#schedule(now);
  }

  /** Something arrived from the peer. */
  heard(): void {
    this.#lastHeard = this.#now();
  }

  stop(): void {
    this.#stopped = true;
  }

  #schedule(now: number): void {
    const wake = Math.min(this.#nextPing, this.#lastHeard + this.#options.silenceMs);
    const generation = ++this.#generation;
    AbortSignal.timeout(Math.max(1, wake - now)).addEventListener(
      "abort",
      () => this.#wake(generation),
      { once: true },
    );
  }

  #wake(generation: number): void {
    if (this.#stopped || generation !== this.#generation) return;
    const { intervalMs, silenceMs } = this.#options;
    const now = this.#now();
    if (this.#options.paused?.()) this.#lastHeard = now;
    // A ping that is due goes out first, even when the silence is over too (a wake that came
    // late, on a stalled event loop): the peer is never given up on without having been pinged.
    if (now >= this.#nextPing) {
      this.#nextPing = now + intervalMs;
      this.#options.ping?.();
    }
    const silentFor = now - this.#lastHeard;
    if (silentFor >= silenceMs) {
      this.#stopped = true;
      this.#options.silent(silentFor);
      return;
    }
    this.#schedule(now);
  }
}
