/** The one error type commands throw; `runCli` turns it into a message and an exit code. */

export {
  ExitCode,
  /** The CLI's name for {@linkcode UserError}: one class, so a config or agent error is one too. */
  UserError as CliError,
  type UserErrorOptions as CliErrorOptions,
} from "../lib/user_error.ts";

/**
 * `exec --label …` / `--all`: some machine failed, timed out or was offline. Past the
 * spec's 0–4 so that it is never mistaken for one of them.
 */
export const FANOUT_FAILED_EXIT = 5;

/** Ends a command quietly with the given exit code (e.g. a remote command's status). */
export class ExitRequest extends Error {
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
    this.name = "ExitRequest";
  }
}

/** Signal numbers of the signals that end the CLI, for the shell's `128 + n` exit status. */
const SIGNAL_NUMBERS = { SIGINT: 2, SIGTERM: 15 } as const;

/**
 * Why the context's signal aborted: the process got SIGINT or SIGTERM.
 *
 * @example
 * ```ts
 * abort.abort(new Interrupted("SIGTERM"));
 * ```
 */
export class Interrupted extends Error {
  constructor(readonly signal: keyof typeof SIGNAL_NUMBERS) {
    super(`interrupted by ${signal}`);
    this.name = "Interrupted";
  }

  /** 130 for SIGINT, 143 for SIGTERM, as a shell reports a command killed by it. */
  get exitCode(): number {
    return 128 + SIGNAL_NUMBERS[this.signal];
  }
}

/**
 * The exit status of a run its signal interrupted: 128 plus the signal's number
 * (130 when the reason is not an {@linkcode Interrupted}, as for Ctrl-C).
 *
 * @example
 * ```ts
 * if (ctx.signal.aborted) throw new ExitRequest(interruptedExitCode(ctx.signal));
 * ```
 */
export function interruptedExitCode(signal: AbortSignal): number {
  return signal.reason instanceof Interrupted
    ? signal.reason.exitCode
    : 128 + SIGNAL_NUMBERS.SIGINT;
}
