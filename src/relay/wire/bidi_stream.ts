/** Serves a bidirectional Connect stream (binary, uncompressed) on raw envelopes, without connect-es's handler pipeline. */
import { Code, ConnectError } from "@connectrpc/connect";
import { endStreamFlag, endStreamToJson } from "@connectrpc/connect/protocol-connect";
import { discardBody } from "../admission.ts";
import { bodyEnvelopes } from "./body_envelopes.ts";
import { ENVELOPE_HEAD } from "./dial_frame.ts";

const encoder = new TextEncoder();

/** What a stream's implementation gets of its call. */
export interface BidiCall {
  requestHeader: Headers;
  /** Aborted when the client goes away or the response ends. */
  signal: AbortSignal;
}

/**
 * Answers only what this serves well (the binary Connect protocol, no compression, no
 * deadline): the rest goes to `fallback`, the Connect router, whose answers stay the only ones.
 */
export function takesBidi(request: Request): boolean {
  const h = request.headers;
  return request.method === "POST" && h.get("content-type") === "application/connect+proto" &&
    !h.has("connect-content-encoding") && !h.has("connect-timeout-ms");
}

/**
 * Runs `serve` on the request's messages (each a view with its 5 header bytes in front, in
 * the same buffer) and streams what it yields: whole envelopes whose first 5 bytes are
 * room for the header, filled here. The response ends with Connect's end-of-stream message,
 * carrying the error `serve` threw as connect-es would; then the request body is let go of.
 * Connect's handler runs each message through a chain of async generators and copies it into
 * a fresh envelope: for 1 GB of exec output that was a quarter of the relay's CPU (profile in
 * bench/README.md).
 *
 * @example
 * ```ts
 * if (takesBidi(request)) return serveBidi(request, headers, 4 << 20, (inputs, call) => run(inputs, call));
 * ```
 */
export function serveBidi(
  request: Request,
  header: Headers,
  maxMessageBytes: number,
  serve: (inputs: AsyncIterator<Uint8Array>, call: BidiCall) => AsyncGenerator<Uint8Array>,
  onEnd: (error?: unknown) => void = () => {},
): Response {
  const body = request.body
    ? bodyEnvelopes(request.body, maxMessageBytes, (bytes) =>
      new ConnectError(
        `message size ${bytes} is larger than configured readMaxBytes ${maxMessageBytes}`,
        Code.ResourceExhausted,
      ))
    : undefined;
  const call = new AbortController();
  const onGone = () => call.abort(request.signal.reason);
  request.signal.addEventListener("abort", onGone, { once: true });
  const inputs = messages(body?.messages);
  const outputs = serve(inputs, { requestHeader: header, signal: call.signal });
  let ended = false;
  const finish = (error?: unknown) => {
    if (ended) return;
    ended = true;
    request.signal.removeEventListener("abort", onGone);
    call.abort();
    discardBody(body?.rest);
    onEnd(error);
  };
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let failure: unknown;
      try {
        const next = await outputs.next();
        if (!next.done) {
          const envelope = next.value;
          envelope[0] = 0;
          new DataView(envelope.buffer, envelope.byteOffset).setUint32(
            1,
            envelope.length - ENVELOPE_HEAD,
          );
          controller.enqueue(envelope);
          return;
        }
      } catch (error) {
        failure = error;
      }
      controller.enqueue(endOfStream(failure));
      controller.close();
      finish(failure);
    },
    async cancel() {
      finish();
      await outputs.return(undefined).catch(() => {});
    },
  });
  return new Response(stream, { headers: { "content-type": "application/connect+proto" } });
}

/** The request's messages; a malformed or oversized envelope fails the call as the client's fault. */
async function* messages(
  envelopes: AsyncIterable<{ flags: number; data: Uint8Array }> | undefined,
): AsyncGenerator<Uint8Array> {
  if (!envelopes) return;
  try {
    for await (const { flags, data } of envelopes) {
      if (flags !== 0) {
        throw new ConnectError(
          `protocol error: unexpected envelope flags ${flags}`,
          Code.InvalidArgument,
        );
      }
      yield data;
    }
  } catch (error) {
    if (error instanceof ConnectError) throw error;
    throw new ConnectError(
      `request body cut short: ${(error as Error)?.message ?? error}`,
      Code.InvalidArgument,
    );
  }
}

/** The end-of-stream message, with the error as Connect's handler would report it. */
export function endOfStream(error?: unknown): Uint8Array {
  const reported = error === undefined || error instanceof ConnectError
    ? error
    : new ConnectError("internal error", Code.Internal, undefined, undefined, error);
  const json = encoder.encode(
    JSON.stringify(endStreamToJson(new Headers(), reported as ConnectError | undefined, undefined)),
  );
  const out = new Uint8Array(ENVELOPE_HEAD + json.length);
  out[0] = endStreamFlag;
  new DataView(out.buffer).setUint32(1, json.length);
  out.set(json, ENVELOPE_HEAD);
  return out;
}
