/** cmdop's side of the benchmarks; each function answers `undefined` ("not measured") until cmdop can be measured. */

import type { Measurement } from "./_stats.ts";

/** Sizes and counts, the same as the OpenSSH baselines get, so figures compare. */
export interface CmdopBenchOptions {
  /** Timed runs per latency figure. */
  runs: number;
  /** Untimed runs before them. */
  warmup: number;
  /** Bytes of `head -c BYTES /dev/zero` in the bulk test. */
  bulkBytes: number;
  /** Bulk transfers (the median counts). */
  bulkRuns: number;
  /** Timed keystrokes in the echo test. */
  keystrokes: number;
  /** Empty scratch dir (relay `--data`, agent `--state`, `CMDOP_HOME`); removed after the run. */
  workDir: string;
}

/** A relay and an agent running on loopback, and how to call the CLI against them. */
export interface CmdopStack {
  /** Command line that runs the CLI, e.g. `[deno, "run", "-A", "main.ts"]`. */
  cli: string[];
  /** Environment for the CLI: `CMDOP_SERVER`, `CMDOP_API_KEY`, `CMDOP_HOME`. */
  env: Record<string, string>;
  /** Hostname the agent enrolled as. */
  host: string;
  /** Stops agent and relay; also to be registered with `registerCleanup` (see `_cleanup.ts`). */
  stop(): Promise<void>;
}

/**
 * Starts `cmdop relay serve` on a free loopback port, creates a workspace and
 * runs `cmdop agent run` enrolled in it, the way `bench/_sshd.ts` starts sshd.
 * Resolves `undefined` while relay and agent do not exist; the exec, bulk and
 * echo figures are then skipped.
 *
 * @example
 * ```ts
 * const stack = await startCmdop(options);
 * if (stack) try { … } finally { await stack.stop(); }
 * ```
 */
export function startCmdop(
  _options: CmdopBenchOptions,
): Promise<CmdopStack | undefined> {
  return Promise.resolve(undefined);
}

/**
 * `cmdop connect exec HOST -- true`, one CLI process per run, timed from spawn
 * to exit like `ssh host true` (`timeCommand` and `repeat` in `_run.ts`).
 * Expected: a `metric: "exec.new"` figure, and `"exec.reused"` should cmdop
 * ever keep a connection between calls.
 *
 * @example
 * ```ts
 * const figures = await measureCmdopExec(stack, options);
 * ```
 */
export function measureCmdopExec(
  _stack: CmdopStack,
  _options: CmdopBenchOptions,
): Promise<Measurement[] | undefined> {
  return Promise.resolve(undefined);
}

/**
 * `cmdop connect exec HOST -- head -c BYTES /dev/zero` read to the end
 * (`timeBulkRead` in `_run.ts`, rate from first to last byte).
 * Expected: `metric: "bulk"`, `summarizeRate(bytes, streamSeconds)`.
 *
 * @example
 * ```ts
 * const figure = await measureCmdopBulk(stack, options);
 * ```
 */
export function measureCmdopBulk(
  _stack: CmdopStack,
  _options: CmdopBenchOptions,
): Promise<Measurement | undefined> {
  return Promise.resolve(undefined);
}

/**
 * Keystroke echo through `cmdop connect HOST` into the agent's `/bin/sh`
 * (`measureEchoOfCommand` in `_echo.ts`). The CLI wants a terminal: run it
 * under `script -qfec "<cli> connect HOST" /dev/null`, which gives it a pty
 * that it switches to raw mode, so every echo comes from the remote pty.
 * Expected: `metric: "echo"`.
 *
 * @example
 * ```ts
 * const figure = await measureCmdopEcho(stack, options);
 * ```
 */
export function measureCmdopEcho(
  _stack: CmdopStack,
  _options: CmdopBenchOptions,
): Promise<Measurement | undefined> {
  return Promise.resolve(undefined);
}

/**
 * `cmdop --version`: what a CLI call costs before any network, compared with
 * `deno run` of an empty script. Needs no relay. Expected: `metric: "startup"`.
 *
 * @example
 * ```ts
 * const figure = await measureCliStartup(options);
 * ```
 */
export function measureCliStartup(
  _options: CmdopBenchOptions,
): Promise<Measurement | undefined> {
  return Promise.resolve(undefined);
}
