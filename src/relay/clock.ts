/** The relay's clock, with a test-only offset that moves it forward without waiting. */

/** The variable naming the offset file; honoured only when set. */
export const CLOCK_FILE_VARIABLE = "CMDOP_RELAY_CLOCK_FILE";

/**
 * The real clock, or, when `CMDOP_RELAY_CLOCK_FILE` is set, the real clock plus the
 * number of milliseconds in that file, read again on every call so a test can jump the
 * relay hours ahead (expiry of share links, login tokens, lock-outs) while it runs.
 * Time keeps flowing either way, so polling and timers behave normally. An unreadable
 * or empty file keeps the last offset (write it atomically: temporary file, then rename). `file` is `undefined` in production.
 *
 * @example
 * ```ts
 * const now = relayClock(Date.now, ctx.env(CLOCK_FILE_VARIABLE));
 * ```
 */
export function relayClock(realNow: () => number, file: string | undefined): () => number {
  if (!file) return realNow;
  let offset = readOffset(file) ?? 0;
  return () => {
    offset = readOffset(file) ?? offset;
    return realNow() + offset;
  };
}

function readOffset(file: string): number | undefined {
  try {
    const text = Deno.readTextFileSync(file).trim();
    // Empty is a file caught mid-write: keep the last offset rather than jump back.
    const value = text === "" ? NaN : Number(text);
    return Number.isFinite(value) ? value : undefined;
  } catch {
    return undefined;
  }
}
