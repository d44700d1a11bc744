/** supervise: runs one connection's or session's background task so that no failure of it can escape unobserved. */

/** What {@linkcode supervise} reports to and runs when the task is over. */
export interface SuperviseOptions {
  /** Where a failure is reported, with the task's name (a session id, a machine id). */
  log(message: string): void;
  /** Runs once the task has settled, failed or not; its own failure is logged too. */
  cleanup?: () => unknown;
  /** Runs only when the task failed, before `cleanup` (e.g. hang the session up). */
  onError?: (error: unknown) => unknown;
  /** Failures that are expected (a peer hanging up) are not logged when this says so. */
  quiet?: (error: unknown) => boolean;
}

/**
 * Runs `task` (a promise, or a function started at once) under supervision:
 * a rejection (or a synchronous throw) is caught at the moment the task is
 * created, logged as `NAME failed: MESSAGE`, and handed to `onError`; then
 * `cleanup` runs. The returned promise never rejects, so it may be dropped or
 * awaited. Every per-connection task of the relay and the agent runs under this:
 * a peer that vanishes mid-stream fails its own task and nothing else.
 *
 * @example
 * ```ts
 * supervise(`session ${id}: client input`, forwardInputs(inputs, dialed), {
 *   log,
 *   onError: () => hangUp(),
 * });
 * ```
 */
export function supervise(
  name: string,
  task: Promise<unknown> | (() => unknown),
  options: SuperviseOptions,
): Promise<void> {
  let running: Promise<unknown>;
  try {
    running = Promise.resolve(typeof task === "function" ? task() : task);
  } catch (error) {
    running = Promise.reject(error);
  }
  return running.then(
    () => settle(name, options, undefined, false),
    (error) => settle(name, options, error, true),
  );
}

async function settle(
  name: string,
  options: SuperviseOptions,
  error: unknown,
  failed: boolean,
): Promise<void> {
  if (failed) {
    if (!options.quiet?.(error)) options.log(`${name} failed: ${describeError(error)}`);
    await guarded(
      `${name}: error handler`,
      options.onError ? () => options.onError!(error) : undefined,
      options,
    );
  }
  await guarded(`${name}: cleanup`, options.cleanup, options);
}

async function guarded(
  name: string,
  step: (() => unknown) | undefined,
  options: SuperviseOptions,
): Promise<void> {
  if (!step) return;
  try {
    await step();
  } catch (error) {
    options.log(`${name} failed: ${describeError(error)}`);
  }
}

/**
 * One line for a log: the error's name and message (what a caught `unknown` can carry).
 *
 * @example
 * ```ts
 * describeError(new TypeError("bad")); // "TypeError: bad"
 * ```
 */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    return error.name && error.name !== "Error" ? `${error.name}: ${error.message}` : error.message;
  }
  return String(error);
}
