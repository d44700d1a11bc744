/** Runs a Connect universal handler on a Deno.serve request, releasing the request body once the response is over. */
import { concatBytes } from "../lib/bytes.ts";
import { Code, ConnectError } from "@connectrpc/connect";
import type { UniversalHandlerFn, UniversalServerResponse } from "@connectrpc/connect/protocol";
import { bodyDeadline, releaseBody } from "./admission.ts";

/**
 * Connect's own fetch adapter (`createFetchHandler`), plus one thing it does
 * not do: when the response has ended (or the client went away) the request
 * body is cancelled. Deno.serve keeps a connection whose request body was
 * neither read to the end nor cancelled: a bidirectional session whose client
 * hung up after the exit frame left two sockets per exec in CLOSE-WAIT for
 * good, and a busy relay ran out of file descriptors. `header` replaces the
 * request's headers (the relay adds the peer address).
 *
 * @example
 * ```ts
 * return await serveUniversal(handler, request, headersWithPeer);
 * ```
 */
export async function serveUniversal(
  handler: UniversalHandlerFn,
  request: Request,
  header: Headers,
  bodyTimeoutMs?: number,
): Promise<Response> {
  const reader = request.body?.getReader();
  // A unary body must arrive whole in time: one trickled a byte at a time holds its connection.
  const deadline = bodyTimeoutMs === undefined ? undefined : bodyDeadline(bodyTimeoutMs);
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    deadline?.clear();
    // Drained when small, else cancelled before the answer goes out: see releaseBody.
    releaseBody(reader, request.headers.get("content-length"));
  };
  const body: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]: () => ({
      next: async () => {
        if (!reader) return { done: true, value: undefined };
        let result;
        try {
          result = deadline ? await deadline.read(reader) : await reader.read();
        } catch (error) {
          if (error instanceof ConnectError) throw error;
          // The body ended short of its Content-Length, or the connection went: the client's
          // doing, not the relay's (connect-es would answer "internal").
          throw new ConnectError(
            `request body cut short: ${(error as Error)?.message ?? error}`,
            Code.InvalidArgument,
          );
        }
        return result.done ? { done: true, value: undefined } : result;
      },
      throw: async (reason: unknown) => {
        await reader?.cancel(reason);
        return { done: true, value: undefined };
      },
    }),
  };
  let response;
  try {
    response = await handler({
      httpVersion: "",
      method: request.method,
      url: request.url,
      header,
      body,
      signal: request.signal,
    });
  } catch (error) {
    release();
    throw error;
  }
  if (response.body === undefined) {
    release();
    return new Response(null, { status: response.status, headers: response.header });
  }
  // An error answer is a small JSON body, sent whole with its head: streamed after it, it is lost
  // when the engine closes a connection whose request body broke off.
  if (response.status !== 200) return await clientFaultUnary(response, release);
  const it = response.body[Symbol.asyncIterator]();
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let next;
      try {
        next = await it.next();
      } catch (error) {
        release();
        throw error;
      }
      if (next.done) {
        controller.close();
        release();
      } else controller.enqueue(clientFaultEndStream(next.value));
    },
    async cancel(reason) {
      release();
      try {
        await it.throw?.(reason);
      } catch {
        // A generator rethrows what it is thrown unless it catches it.
      }
    },
  });
  return new Response(stream, { status: response.status, headers: response.header });
}

/**
 * connect-es reports a request message that does not decode as protobuf, or
 * an envelope flagged compressed on a call that negotiated no compression, as
 * "internal" (HTTP 500), which blames the relay for the client's bytes (JSON
 * that does not parse is already "invalid_argument"). These two rewrite those
 * errors, by their message, in a unary answer and in a stream's end message.
 */
const PARSE_ERROR =
  /^(parse binary: |received compressed envelope, but do not know how to decompress|invalid envelope, already compressed)/;
const encoder = new TextEncoder();

async function clientFaultUnary(
  response: UniversalServerResponse,
  release: () => void,
): Promise<Response> {
  const header = response.header ?? new Headers();
  const chunks: Uint8Array[] = [];
  for await (const chunk of response.body ?? []) chunks.push(chunk);
  release();
  const body = concatBytes(chunks);
  const error = header.has("content-encoding") ? undefined : parseJson(body);
  if (error?.code === "internal" && PARSE_ERROR.test(error.message ?? "")) {
    const fixed = encoder.encode(JSON.stringify({ ...error, code: "invalid_argument" }));
    header.set("content-length", String(fixed.length));
    return new Response(fixed, { status: 400, headers: header });
  }
  return new Response(body, { status: response.status, headers: header });
}

/** An uncompressed end-of-stream envelope (flags 2) with the parse error becomes invalid_argument. */
function clientFaultEndStream(chunk: Uint8Array): Uint8Array {
  if (chunk.length < 5 || chunk[0] !== 2) return chunk;
  const end = parseJson(chunk.subarray(5)) as { error?: { code?: string; message?: string } };
  if (end?.error?.code !== "internal" || !PARSE_ERROR.test(end.error.message ?? "")) return chunk;
  const data = encoder.encode(
    JSON.stringify({ ...end, error: { ...end.error, code: "invalid_argument" } }),
  );
  const out = new Uint8Array(5 + data.length);
  out[0] = 2;
  new DataView(out.buffer).setUint32(1, data.length);
  out.set(data, 5);
  return out;
}

function parseJson(bytes: Uint8Array): { code?: string; message?: string } | undefined {
  try {
    const value = JSON.parse(new TextDecoder().decode(bytes));
    return typeof value === "object" && value !== null ? value : undefined;
  } catch {
    return undefined;
  }
}
