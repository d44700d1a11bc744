/** Serves a bidirectional Connect stream (binary, uncompressed) on raw envelopes, without connect-es's handler pipeline. */
import { Code, ConnectError } from "@connectrpc/connect";
import { endStreamFlag, endStreamToJson } from "@connectrpc/connect/protocol-connect";
import { discardBody } from "../admission.ts";
import { writeEnvelopeHead } from "../../lib/wire/envelopes.ts";
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
  serve: (inputs: AsyncIterator<Uint8Array>, call: BidiCall) => AsyncIterator<Uint8Array>,
  onEnd: (error?: unknown) => void = () => {},
): Response {
  const { inputs, call, finish } = openCall(request, header, maxMessageBytes, onEnd);
  const outputs = serve(inputs, call);
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let failure: unknown;
      try {
        const next = await outputs.next();
        if (!next.done) {
          controller.enqueue(writeEnvelopeHead(next.value));
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
      await outputs.return?.(undefined).catch(() => {});
    },
  });
  return new Response(stream, { headers: { "content-type": "application/connect+proto" } });
}

/** Where a pushed stream's implementation sends its messages. */
export interface BidiSink {
  /**
   * Sends one envelope (5 bytes of room in front, filled here) at once, without waiting for the
   * response to be read: for a direction whose flow is bounded elsewhere (credit). False once
   * the response has ended.
   */
  send(envelope: Uint8Array): boolean;
}

/**
 * As {@linkcode serveBidi}, for a stream whose messages are pushed as they come rather than pulled:
 * each goes into the response at once, with no generator or queue between the sender and the
 * response stream (a keystroke on its way to the agent). The response ends when `serve` settles.
 *
 * @example
 * ```ts
 * return serveBidiPush(request, headers, 4 << 20, async (inputs, sink, call) => { sink.send(bytes); });
 * ```
 */
export function serveBidiPush(
  request: Request,
  header: Headers,
  maxMessageBytes: number,
  serve: (inputs: AsyncIterator<Uint8Array>, sink: BidiSink, call: BidiCall) => Promise<void>,
  onEnd: (error?: unknown) => void = () => {},
): Response {
  const { inputs, call, finish } = openCall(request, header, maxMessageBytes, onEnd);
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let closed = false;
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    cancel() {
      closed = true;
      finish();
    },
  });
  const end = (failure?: unknown) => {
    if (closed) return;
    closed = true;
    controller.enqueue(endOfStream(failure));
    controller.close();
    finish(failure);
  };
  const sink: BidiSink = {
    send(envelope) {
      if (closed) return false;
      controller.enqueue(writeEnvelopeHead(envelope));
      return true;
    },
  };
  serve(inputs, sink, call).then(() => end(), end);
  return new Response(stream, { headers: { "content-type": "application/connect+proto" } });
}

/** The request's messages, the call's signal, and what ends the call once the response is over. */
function openCall(
  request: Request,
  header: Headers,
  maxMessageBytes: number,
  onEnd: (error?: unknown) => void,
) {
  const body = request.body
    ? bodyEnvelopes(request.body, maxMessageBytes, (bytes) =>
      new ConnectError(
        `message size ${bytes} is larger than configured readMaxBytes ${maxMessageBytes}`,
        Code.ResourceExhausted,
      ))
    : undefined;
  const controller = new AbortController();
  const onGone = () => controller.abort(request.signal.reason);
  request.signal.addEventListener("abort", onGone, { once: true });
  let ended = false;
  const finish = (error?: unknown) => {
    if (ended) return;
    ended = true;
    request.signal.removeEventListener("abort", onGone);
    controller.abort();
    discardBody(body?.rest);
    onEnd(error);
  };
  const call: BidiCall = { requestHeader: header, signal: controller.signal };
  return { inputs: messages(body?.messages), call, finish };
}

/** The request's messages; a malformed or oversized envelope fails the call as the client's fault. */
function messages(
  envelopes: AsyncGenerator<{ flags: number; data: Uint8Array }> | undefined,
): AsyncIterator<Uint8Array> {
  if (!envelopes) return { next: () => Promise.resolve({ done: true, value: undefined }) };
  // One reaction per message rather than a generator's steps (a keystroke passes here).
  const step = (
    next: IteratorResult<{ flags: number; data: Uint8Array }>,
  ): IteratorResult<Uint8Array> => {
    if (next.done) return { done: true, value: undefined };
    if (next.value.flags !== 0) {
      throw new ConnectError(
        `protocol error: unexpected envelope flags ${next.value.flags}`,
        Code.InvalidArgument,
      );
    }
    return { done: false, value: next.value.data };
  };
  const cutShort = (error: unknown): never => {
    if (error instanceof ConnectError) throw error;
    throw new ConnectError(
      `request body cut short: ${(error as Error)?.message ?? error}`,
      Code.InvalidArgument,
    );
  };
  return {
    next: () => envelopes.next().then(step, cutShort),
    return: async () => {
      await envelopes.return(undefined);
      return { done: true, value: undefined };
    },
  };
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
