/** toCliError: maps anything a command throws (Connect errors, network failures, prompts) to the error the user sees and its exit code. */
import type { ConnectError } from "@connectrpc/connect";
import { ConnectCode as Code, isConnectError } from "../lib/connect_errors.ts";
import { CliError, ExitCode } from "./errors.ts";
import type { RunState } from "./globals.ts";
import { stoppedAnswering } from "./session_errors.ts";
import { isUnreachable, notARelay, type RelayAddress, unreachableRelay } from "./unreachable.ts";

/**
 * Maps anything thrown to the error the user sees.
 *
 * @example
 * ```ts
 * const cliError = toCliError(error, state);
 * await ctx.stderr.write(`error: ${cliError.message}\n`);
 * ```
 */
export function toCliError(error: unknown, state: RunState = {}): CliError {
  if (error instanceof CliError) return error;
  // Thrown inside a client interceptor (a failed login refresh): Connect wraps it, keep it whole.
  if (isConnectError(error) && error.cause instanceof CliError) return error.cause;
  if (isConnectError(error)) return fromConnectError(error, state);
  if (error instanceof Error && error.name === "ExitPromptError") {
    return new CliError("cancelled", { exitCode: 130 });
  }
  // A request that failed outside Connect (plain fetch) still names its real cause.
  if (error instanceof TypeError && isUnreachable(error.cause)) {
    return unreachableRelay(error, addressOf(state));
  }
  // The relay clients' own sockets fail with Deno's errors (DNS, TLS): still a network failure.
  if (state.server && isUnreachable(error)) return unreachableRelay(error, addressOf(state));
  const message = error instanceof Error ? error.message : String(error);
  return new CliError(message, { cause: error });
}

/** The relay the run talked to, when it got that far. */
function addressOf(state: RunState): RelayAddress | undefined {
  return state.server ? { server: state.server, source: state.serverSource } : undefined;
}

function fromConnectError(error: ConnectError, state: RunState): CliError {
  const message = error.rawMessage;
  const address = addressOf(state);
  // A bare status ("HTTP 404") is what an HTTP server that is not the relay answers.
  if (address && /^HTTP \d{3}\b/.test(message)) return notARelay(message, address, error);
  switch (error.code) {
    case Code.Unauthenticated:
      return new CliError(
        state.credentialSource ? `${message} (credential from ${state.credentialSource})` : message,
        {
          exitCode: ExitCode.auth,
          hint: state.credentialHint ??
            (state.credentialSource ? "fix or replace that credential" : undefined),
          cause: error,
        },
      );
    case Code.PermissionDenied:
    case Code.ResourceExhausted:
      // The relay may say what would allow the call (a machine not let act as a client).
      return new CliError(message, {
        exitCode: ExitCode.auth,
        hint: error.metadata.get("cmdop-hint") ?? undefined,
        cause: error,
      });
    case Code.FailedPrecondition:
      if (error.metadata.get("cmdop-reason") === "offline") {
        return new CliError(message, { exitCode: ExitCode.offline, cause: error });
      }
      return new CliError(message, { cause: error });
    case Code.Unavailable:
      if (error.metadata.get("cmdop-reason") === "stopped-answering") {
        return stoppedAnswering(error);
      }
      // falls through
    case Code.Unknown:
    case Code.Internal:
      // "fetch failed" says nothing: the reason (refused, untrusted certificate) is in the causes.
      if (isUnreachable(error)) return unreachableRelay(error, address);
      return new CliError(message, { cause: error });
    default:
      return new CliError(message, { cause: error });
  }
}
