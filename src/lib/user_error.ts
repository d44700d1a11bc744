/**
 * The error a person reads: a message, a hint saying what to do about it, and the exit code the
 * spec page promises. The CLI (as `CliError`), the config files (`ConfigError`), the agent and
 * the relay's operator commands all throw it, so none of them depends on another to report a
 * mistake.
 */

/** Exit codes promised by the spec page. */
export const ExitCode = {
  ok: 0,
  generic: 1,
  auth: 2,
  offline: 3,
  ambiguous: 4,
} as const;

/** Options of a {@linkcode UserError}. */
export interface UserErrorOptions {
  /** Process exit code; 1 unless given. */
  exitCode?: number;
  /** A second line telling the user what to do about it. */
  hint?: string;
  /** Lines printed after the message, e.g. the candidates of an ambiguous name. */
  details?: string[];
  cause?: unknown;
}

/**
 * An error meant for a person: `runCli` prints its message and hint and exits with its code.
 *
 * @example
 * ```ts
 * throw new UserError(`machine "web" is offline`, { exitCode: ExitCode.offline });
 * ```
 */
export class UserError extends Error {
  readonly exitCode: number;
  readonly hint?: string;
  readonly details: string[];

  constructor(message: string, options: UserErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = "UserError";
    this.exitCode = options.exitCode ?? ExitCode.generic;
    this.hint = options.hint;
    this.details = options.details ?? [];
  }
}
