/** describe/it/before/after of node:test with a deadline on every test and hook, and the relays' and agents' last log lines on failure. */
import * as nodeTest from "node:test";
import { logTails } from "./_logs.ts";

export { after, afterEach, beforeEach, describe } from "node:test";

/** A test's deadline unless it says otherwise: generous, for a slow machine under load. */
export const TEST_DEADLINE_MS = 120_000;
/** A `before` hook's deadline (it starts relays, agents, databases). */
export const HOOK_DEADLINE_MS = 180_000;

/** Options of {@linkcode it}. */
export interface ItOptions {
  /** A reason (or true) to skip it: the run counts it skipped. Never `t.skip()` inside a test. */
  skip?: string | boolean;
  /** Its deadline; {@linkcode TEST_DEADLINE_MS} by default. */
  timeoutMs?: number;
}

type TestFn = (t: nodeTest.TestContext) => unknown;

/**
 * Runs `fn` to its end or to the deadline, whichever comes first. Past the deadline it fails
 * naming `what`; any failure prints the last log lines of the relays and agents the test
 * file started. `fn` may still be running then: its later failure is observed and dropped,
 * and the file's `after(killAll)` ends the processes it waits on.
 *
 * @example
 * ```ts
 * await withDeadline("the agent to reconnect", 30_000, () => reconnected);
 * ```
 */
export async function withDeadline<T>(
  what: string,
  timeoutMs: number,
  fn: () => T | Promise<T>,
): Promise<T> {
  const run = Promise.resolve().then(fn);
  run.catch(() => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`${what} did not finish within ${timeoutMs / 1000} s`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([run, deadline]);
  } catch (error) {
    const tails = logTails(25);
    if (tails) console.error(`\n${what} failed; the relays and agents it started:${tails}\n`);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * node:test's `it` with a deadline ({@linkcode TEST_DEADLINE_MS} unless `timeoutMs` says) and
 * the relays' and agents' last log lines when it fails.
 *
 * @example
 * ```ts
 * it("exits 0 and prints the remote stdout", async () => {
 *   const r = await runCmdop(["connect", "exec", "db", "--", "echo", "hi"], { env });
 *   assert.equal(r.stdout, "hi\n");
 * });
 * it("attaches in tmux", { skip: noTmux, timeoutMs: 60_000 }, async () => {});
 * ```
 */
export function it(name: string, fn: TestFn): void;
export function it(name: string, options: ItOptions, fn: TestFn): void;
export function it(name: string, a: ItOptions | TestFn, b?: TestFn): void {
  const [options, fn] = typeof a === "function" ? [{}, a] : [a, b!];
  const timeoutMs = options.timeoutMs ?? TEST_DEADLINE_MS;
  nodeTest.it(name, { skip: options.skip }, async (t) => {
    await withDeadline(`test "${name}"`, timeoutMs, () => fn(t));
  });
}

/**
 * node:test's `before` with a deadline ({@linkcode HOOK_DEADLINE_MS} by default).
 *
 * @example
 * ```ts
 * before(async () => {
 *   relay = await startRelay();
 * });
 * ```
 */
export function before(fn: () => unknown, timeoutMs = HOOK_DEADLINE_MS): void {
  nodeTest.before(async () => {
    await withDeadline("the before hook", timeoutMs, fn);
  });
}
