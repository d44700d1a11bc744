/** What a request must show before the relay reads its body: a credential in its headers, and a body within its cap. */
import { concatBytes } from "../lib/bytes.ts";
import { Code, ConnectError } from "@connectrpc/connect";
import { endStreamFlag, endStreamToJson } from "@connectrpc/connect/protocol-connect";
import { type AccessTokenResolver, authenticateAgent, authenticateClient } from "./auth.ts";
import type { RelayDeps } from "./deps.ts";
import { DEFAULT_BODY_TIMEOUT_MS } from "./limits.ts";

/** Connect paths that carry their credential in the body (enroll token), or none. */
const OPEN_PATHS = new Set(["/cmdop.v1.AgentService/Enroll"]);
/** Services anyone may call: health checkers and reflection clients carry no cmdop credential. */
const OPEN_SERVICES = ["/grpc.health.v1.Health/", "/grpc.reflection.v1.ServerReflection/"];
const AGENT_PREFIX = "/cmdop.v1.AgentService/";

/**
 * Checks the Authorization header of a Connect call before anything reads
 * its body; returns the refusal (the error, and the response that carries it)
 * for a credential that is missing or not valid, or `undefined` to go on; an API key or
 * share link seen from `peer` for the first time is noted in the audit log. Only "unauthenticated" stops a call
 * here: other refusals (a login in several workspaces, say) are the
 * handler's to give, with the body read within its cap.
 *
 * @example
 * ```ts
 * const refused = await admitConnectCall(deps, path, request.headers, resolver);
 * if (refused) return refused.response;
 * ```
 */
export async function admitConnectCall(
  deps: RelayDeps,
  path: string,
  headers: Headers,
  resolveAccessToken?: AccessTokenResolver,
  peer?: string,
): Promise<{ error: ConnectError; response: Response } | undefined> {
  if (OPEN_PATHS.has(path) || OPEN_SERVICES.some((prefix) => path.startsWith(prefix))) {
    return undefined;
  }
  try {
    if (path.startsWith(AGENT_PREFIX)) await authenticateAgent(deps, headers);
    else {
      const principal = await authenticateClient(deps, headers, resolveAccessToken);
      // Every client call passes here once, with the address the listener saw.
      if (peer) deps.audit.noteUse(principal, peer);
    }
    return undefined;
  } catch (error) {
    if (!(error instanceof ConnectError) || error.code !== Code.Unauthenticated) return undefined;
    return { error, response: connectErrorResponse(error, headers.get("content-type")) };
  }
}

const HTTP_STATUS: Partial<Record<Code, number>> = {
  [Code.InvalidArgument]: 400,
  [Code.Unauthenticated]: 401,
  [Code.ResourceExhausted]: 429,
};

/**
 * A Connect error as the protocol frames it for this content type: an
 * end-of-stream message (HTTP 200) for Connect streaming calls, a trailers-only
 * answer for gRPC and gRPC-Web, a JSON error with its HTTP status for unary ones.
 *
 * @example
 * ```ts
 * return connectErrorResponse(new ConnectError("no", Code.Unauthenticated), "application/proto");
 * ```
 */
export function connectErrorResponse(error: ConnectError, contentType: string | null): Response {
  const type = (contentType ?? "").toLowerCase();
  const headers = new Headers({ "cache-control": "no-store" });
  if (type.startsWith("application/grpc")) {
    // gRPC and gRPC-Web: a trailers-only answer, the status in the headers of an HTTP 200.
    headers.set("content-type", type);
    headers.set("grpc-status", String(error.code));
    headers.set("grpc-message", encodeURIComponent(error.rawMessage));
    return new Response(null, { headers });
  }
  if (type.startsWith("application/connect+")) {
    headers.set("content-type", type);
    const json = JSON.stringify(endStreamToJson(new Headers(), error, undefined));
    const data = new TextEncoder().encode(json);
    const body = new Uint8Array(5 + data.length);
    body[0] = endStreamFlag;
    new DataView(body.buffer).setUint32(1, data.length);
    body.set(data, 5);
    return new Response(body, { headers });
  }
  headers.set("content-type", "application/json");
  const body = JSON.stringify({ code: codeName(error.code), message: error.rawMessage });
  return new Response(body, { status: HTTP_STATUS[error.code] ?? 500, headers });
}

function codeName(code: Code): string {
  return Code[code].replace(/[A-Z]/g, (c, i) => (i ? "_" : "") + c.toLowerCase());
}

/**
 * The error of a body that had not all arrived within `timeoutMs`: a plain
 * ConnectError (connect-es does not take a subclass for one), told apart by
 * {@linkcode isBodyTimeout}.
 */
function bodyTimeoutError(timeoutMs: number): ConnectError {
  const error = new ConnectError(
    `request body not received within ${timeoutMs / 1000} s`,
    Code.DeadlineExceeded,
  );
  bodyTimeouts.add(error);
  return error;
}
const bodyTimeouts = new WeakSet<Error>();

/** Whether `error` is a body's deadline passing (see {@linkcode withBodyDeadline}). */
export function isBodyTimeout(error: unknown): error is ConnectError {
  return error instanceof Error && bodyTimeouts.has(error);
}

/**
 * A deadline for reading one whole body: `read` is `reader.read()`, failing
 * with a Connect `deadline_exceeded` ({@linkcode isBodyTimeout}) once
 * `timeoutMs` have passed since this call; the caller then lets the body go.
 * For bodies read whole (unary calls, forms): a stream's body is its session.
 *
 * @example
 * ```ts
 * const deadline = bodyDeadline(30_000);
 * const { done, value } = await deadline.read(reader);
 * ```
 */
export function bodyDeadline(timeoutMs: number): {
  read<T>(reader: ReadableStreamDefaultReader<T>): Promise<ReadableStreamReadResult<T>>;
  clear(): void;
} {
  const end = Date.now() + timeoutMs;
  let timer: ReturnType<typeof setTimeout> | undefined;
  return {
    async read(reader) {
      const left = end - Date.now();
      if (left <= 0) throw bodyTimeoutError(timeoutMs);
      try {
        return await Promise.race([
          reader.read(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(bodyTimeoutError(timeoutMs)), left);
          }),
        ]);
      } finally {
        clearTimeout(timer);
      }
    },
    clear: () => clearTimeout(timer),
  };
}

/** A body that was larger than its cap. */
export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`request body is larger than ${limit} bytes`);
    this.name = "BodyTooLargeError";
  }
}

/**
 * Reads a request body up to `maxBytes`, refusing at once when its
 * Content-Length says more and as soon as the bytes read pass the cap (the
 * rest is never read: the body is cancelled).
 *
 * @example
 * ```ts
 * const bytes = await readBodyCapped(request, 16 * 1024); // throws BodyTooLargeError
 * ```
 */
export async function readBodyCapped(
  request: Request,
  maxBytes: number,
  timeoutMs: number = DEFAULT_BODY_TIMEOUT_MS,
): Promise<Uint8Array<ArrayBuffer>> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > maxBytes) {
    await request.body?.cancel().catch(() => {});
    throw new BodyTooLargeError(maxBytes);
  }
  if (!request.body) return new Uint8Array();
  const reader = request.body.getReader();
  const deadline = bodyDeadline(timeoutMs);
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  let total = 0;
  for (;;) {
    let read;
    try {
      read = await deadline.read(reader);
    } catch (error) {
      if (isBodyTimeout(error)) await reader.cancel().catch(() => {});
      throw error;
    }
    const { done, value } = read;
    if (done) break;
    total += value.length;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw new BodyTooLargeError(maxBytes);
    }
    chunks.push(value);
  }
  return concatBytes(chunks);
}

/**
 * Request bytes read and dropped before a refused body is cancelled: twice the unary cap (64
 * KiB), so that a call refused for its size a little past the cap (70 KB) still gets its answer;
 * 64 KiB lost it to a reset now and then. Nothing is kept. (1 MiB was tried: ten 300 MB bodies
 * refused at once then lost an answer to the reset, the client still sending when it came.)
 */
const DRAIN_BYTES = 128 * 1024;
const DRAIN_MS = 5_000;

/**
 * Lets go of a request body the relay will not use. A socket closed with
 * unread bytes in it is reset, and a client that was still sending may lose
 * the answer it was given: so a remainder up to 128 KiB, for up to 5 s, is read and
 * dropped first (nginx's lingering close does the same), and only a larger or slower one is
 * cancelled.
 *
 * @example
 * ```ts
 * discardBody(request.body?.getReader());
 * ```
 */
export function discardBody(reader: ReadableStreamDefaultReader<Uint8Array> | undefined): void {
  if (!reader) return;
  const deadline = setTimeout(() => reader.cancel().catch(() => {}), DRAIN_MS);
  (async () => {
    let read = 0;
    while (read <= DRAIN_BYTES) {
      const { done, value } = await reader.read();
      if (done) return;
      read += value.length;
    }
    await reader.cancel();
  })().catch(() => {}).finally(() => clearTimeout(deadline));
}

/**
 * Lets go of the rest of a request body the relay will not read. One declared small enough is
 * drained ({@linkcode discardBody}); a larger one, or one of unknown length, is cancelled at
 * once, before the answer goes out. Cancelled later, the reset can reach the client after the
 * answer and take it along: ten parallel 300 MB bodies with a bad credential, both cores loaded,
 * lost an answer in 3 of 40 runs draining 128 KiB first, in 11 of 12 draining up to 64 MiB, in
 * none of 32 cancelled at once.
 *
 * @example
 * ```ts
 * releaseBody(request.body?.getReader(), request.headers.get("content-length"));
 * ```
 */
export function releaseBody(
  reader: ReadableStreamDefaultReader<Uint8Array> | undefined,
  contentLength: string | null,
): void {
  if (!reader) return;
  if (contentLength !== null && Number(contentLength) <= DRAIN_BYTES) discardBody(reader);
  else reader.cancel().catch(() => {});
}

/** {@linkcode releaseBody} of a body not yet read (a call refused on its headers, a page). */
export function refuseBody(request: Request): void {
  if (!request.body || request.bodyUsed || request.body.locked) return;
  releaseBody(request.body.getReader(), request.headers.get("content-length"));
}
