/** How a session that ended early is reported: lost connections, frozen machines, a silent relay. */
import type { ConnectError } from "@connectrpc/connect";
import { ConnectCode, isConnectError } from "../lib/connect_errors.ts";
import { CliError, ExitCode } from "./errors.ts";

/**
 * The relay gave up on a frozen or cut-off machine in the middle of a session
 * (`cmdop-reason: stopped-answering`): reported like an offline machine.
 *
 * @example
 * ```ts
 * if (error.metadata.get("cmdop-reason") === "stopped-answering") throw stoppedAnswering(error);
 * ```
 */
export function stoppedAnswering(error: ConnectError): CliError {
  return new CliError(error.rawMessage, {
    exitCode: ExitCode.offline,
    hint: "the machine is frozen or its network is down; it shows as offline until its agent " +
      "answers again",
    cause: error,
  });
}

/**
 * A session's stream failed or ended without an exit frame. Keepalive verdicts (the
 * relay silent, the machine frozen) already say what was lost and keep their exit code.
 *
 * @example
 * ```ts
 * throw sessionLost("web-1", error); // error: lost the connection to "web-1": …
 * ```
 */
export function sessionLost(hostname: string, cause?: unknown): CliError {
  if (cause instanceof CliError) return cause;
  if (isConnectError(cause) && cause.metadata.get("cmdop-reason") === "stopped-answering") {
    return stoppedAnswering(cause);
  }
  // The relay ended it because its credential stopped being valid (a share link revoked or
  // expired, an API key revoked): an authentication failure, as when a call is refused.
  const exitCode = isConnectError(cause) && cause.code === ConnectCode.Unauthenticated
    ? ExitCode.auth
    : ExitCode.generic;
  const reason = isConnectError(cause)
    ? `: ${cause.rawMessage}`
    : cause instanceof Error
    ? `: ${cause.message}`
    : "";
  return new CliError(`lost the connection to "${hostname}"${reason}`, { exitCode, cause });
}
