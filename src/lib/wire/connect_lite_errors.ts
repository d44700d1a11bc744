/** The failures of connect_lite.ts as connect-es reports them, built by connect-es (loaded only when a call fails). */
import { appendHeaders, Code, ConnectError } from "@connectrpc/connect";
import {
  endStreamFromJson,
  errorFromJsonBytes,
  trailerDemux,
  validateResponse,
} from "@connectrpc/connect/protocol-connect";

/**
 * What connect-es makes of a thrown value: the caller's abort is Canceled
 * (with the abort's reason), anything else `ConnectError.from`.
 *
 * @example
 * ```ts
 * throw asConnectError(error, signal);
 * ```
 */
export function asConnectError(error: unknown, signal: AbortSignal): ConnectError {
  if (signal.aborted) return ConnectError.from(signal.reason ?? error, Code.Canceled);
  return ConnectError.from(error);
}

/**
 * A unary call that did not answer 200 with a binary message: the JSON error
 * the relay sent, or one derived from the HTTP status or content type.
 *
 * @example
 * ```ts
 * throw unaryFailure(res.status, res.header, body);
 * ```
 */
export function unaryFailure(status: number, header: Headers, body: Uint8Array): ConnectError {
  const { isUnaryError, unaryError } = validateResponse("unary", true, status, header);
  const [head, trailer] = trailerDemux(header);
  if (isUnaryError) return errorFromJsonBytes(body, appendHeaders(head, trailer), unaryError!);
  return new ConnectError("unexpected unary response", Code.Internal, header);
}

/**
 * A streaming call whose response is not a binary Connect stream.
 *
 * @example
 * ```ts
 * throw streamFailure(res.status, res.header);
 * ```
 */
export function streamFailure(status: number, header: Headers): ConnectError {
  validateResponse("bidi_streaming", true, status, header);
  return new ConnectError("unexpected streaming response", Code.Internal, header);
}

/**
 * The error of an end-of-stream message (with the response headers in its
 * metadata), or `undefined` when the stream ended well.
 *
 * @example
 * ```ts
 * const error = endStreamError(data, res.header);
 * ```
 */
export function endStreamError(data: Uint8Array, header: Headers): ConnectError | undefined {
  const end = endStreamFromJson(data);
  if (!end.error) return undefined;
  header.forEach((value, key) => end.error!.metadata.append(key, value));
  return end.error;
}

/** A message after the end-of-stream message. */
export function afterEnd(): ConnectError {
  return new ConnectError(
    "protocol error: received extra message after EndStreamResponse",
    Code.InvalidArgument,
  );
}

/** A stream that ended without its end-of-stream message. */
export function missingEnd(): ConnectError {
  return new ConnectError("protocol error: missing EndStreamResponse", Code.InvalidArgument);
}
