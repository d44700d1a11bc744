/** The relay's clock, with a test-only offset that moves it forward without waiting, or holds it still. */

/** The variable naming the offset file; honoured only when set. */
export const CLOCK_FILE_VARIABLE = "CMDOP_RELAY_CLOCK_FILE";

/**
 * The real clock, or, when `CMDOP_RELAY_CLOCK_FILE` is set, what that file says, read again on
 * every call so a test can move the relay's time while it runs:
 * - a number: the real clock plus that many milliseconds (jump hours ahead to expire share
 *   links, login tokens, lock-outs); time keeps flowing, so polling and timers behave normally;
 * - `@` and a unix time in milliseconds: the clock stands still there, so that a 1 s lock-out
 *   or a poll interval outlives however long a CLI takes to start on a slow machine.
 *
 * An unreadable or empty file keeps the last reading (write it atomically: temporary file, then
 * rename). `file` is `undefined` in production.
 *
 * @example
 * ```ts
 * const now = relayClock(Date.now, ctx.env(CLOCK_FILE_VARIABLE));
 * ```
 */
export function relayClock(realNow: () => number, file: string | undefined): () => number {
  if (!file) return realNow;
  let reading: Reading = readClock(file) ?? { offset: 0 };
  return () => {
    reading = readClock(file) ?? reading;
    return "at" in reading ? reading.at : realNow() + reading.offset;
  };
}

type Reading = { offset: number } | { at: number };

function readClock(file: string): Reading | undefined {
  try {
    const text = Deno.readTextFileSync(file).trim();
    // Empty is a file caught mid-write: keep the last reading rather than jump back.
    const frozen = text.startsWith("@");
    const value = text === "" || text === "@" ? NaN : Number(frozen ? text.slice(1) : text);
    if (!Number.isFinite(value)) return undefined;
    return frozen ? { at: value } : { offset: value };
  } catch {
    return undefined;
  }
}
