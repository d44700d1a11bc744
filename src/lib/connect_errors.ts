/** Connect's error codes, and a test for its errors, without loading the Connect library. */
import type { ConnectError } from "@connectrpc/connect";

/**
 * The numbers of Connect's `Code` enum (fixed by the Connect protocol), so that
 * the CLI's error mapping does not load the library (~20 ms with protobuf-es)
 * on paths that never produce a Connect error.
 */
export const ConnectCode = {
  Canceled: 1,
  Unknown: 2,
  InvalidArgument: 3,
  DeadlineExceeded: 4,
  NotFound: 5,
  AlreadyExists: 6,
  PermissionDenied: 7,
  ResourceExhausted: 8,
  FailedPrecondition: 9,
  Aborted: 10,
  OutOfRange: 11,
  Unimplemented: 12,
  Internal: 13,
  Unavailable: 14,
  DataLoss: 15,
  Unauthenticated: 16,
} as const;

/**
 * `error instanceof ConnectError`, decided the way ConnectError's own
 * `Symbol.hasInstance` decides it (by shape, so copies of the library agree).
 *
 * @example
 * ```ts
 * if (isConnectError(error) && error.code === ConnectCode.Unauthenticated) refresh();
 * ```
 */
export function isConnectError(error: unknown): error is ConnectError {
  if (!(error instanceof Error) || error.name !== "ConnectError") return false;
  const e = error as unknown as Record<string, unknown>;
  return typeof e.code === "number" && "metadata" in e && Array.isArray(e.details) &&
    typeof e.rawMessage === "string" && "cause" in e;
}
