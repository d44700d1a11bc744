/** The one error type commands throw; `runCli` turns it into a message and an exit code. */

/** Exit codes promised by the spec page. */
export const ExitCode = {
  ok: 0,
  generic: 1,
  auth: 2,
  offline: 3,
  ambiguous: 4,
} as const;

/** Options of a {@linkcode CliError}. */
export interface CliErrorOptions {
  /** Process exit code; 1 unless given. */
  exitCode?: number;
  /** A second line telling the user what to do about it. */
  hint?: string;
  /** Lines printed after the message, e.g. the candidates of an ambiguous name. */
  details?: string[];
  cause?: unknown;
}

/**
 * An error meant for the user of the CLI.
 *
 * @example
 * ```ts
 * throw new CliError(`machine "web" is offline`, { exitCode: ExitCode.offline });
 * ```
 */
export class CliError extends Error {
  readonly exitCode: number;
  readonly hint?: string;
  readonly details: string[];

  constructor(message: string, options: CliErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = "CliError";
    this.exitCode = options.exitCode ?? ExitCode.generic;
    this.hint = options.hint;
    this.details = options.details ?? [];
  }
}

/** Ends a command quietly with the given exit code (e.g. a remote command's status). */
export class ExitRequest extends Error {
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
    this.name = "ExitRequest";
  }
}
