/** halfDuplexSession: a session over a server stream for output and unary calls for input, shaped as the full-duplex call. */
import type { CallOptions } from "@connectrpc/connect";
import type { HalfDuplex, SessionOutput } from "../../gen/cmdop/v1/session_pb.ts";
import { ConnectCode, isConnectError } from "../lib/connect_errors.ts";
import type { SessionInputInit } from "../lib/wire/session_codec.ts";
import type { SessionCalls } from "./relay_client.ts";

/**
 * The longest one input call may take (at most 64 KiB): one stuck on a connection the network
 * dropped would hold every later keystroke behind it for good while the output stream, on
 * another connection, went on. Past it the session fails as lost (a terminal then resumes).
 */
const INPUT_CALL_TIMEOUT_MS = 30_000;
/** Data bytes per input frame; a call carries a few of them under the relay's unary cap. */
const MAX_DATA_FRAME_BYTES = 16 * 1024;
/** Room left in an input call for the fields around the frames. */
const CALL_OVERHEAD_BYTES = 1024;
/** The relay's unary cap, when its handle does not say. */
const DEFAULT_MAX_INPUT_BYTES = 64 * 1024;

/**
 * The frames of `inputs` (the first one the open frame) as a `HalfSession`
 * call and `SendInput` calls, one at a time, each carrying every frame queued
 * while the previous was on its way; yields the output frames but the handle.
 * An input call that fails ends the session with its error; one refused
 * because the session ended does not (its output says how it ended).
 *
 * @example
 * ```ts
 * const frames = halfDuplexSession(conn.sessions, inputs, { signal });
 * ```
 */
export async function* halfDuplexSession(
  calls: Pick<SessionCalls, "halfSession" | "sendInput">,
  inputs: AsyncIterable<SessionInputInit>,
  options: CallOptions & { onHandle?(handle: HalfDuplex): void },
): AsyncGenerator<SessionOutput> {
  const source = inputs[Symbol.asyncIterator]();
  const first = await source.next();
  if (first.done || first.value.msg?.case !== "open") throw new Error("a session opens first");
  const call = new AbortController();
  const follow = () => call.abort(options.signal?.reason);
  if (options.signal?.aborted) follow();
  options.signal?.addEventListener("abort", follow, { once: true });
  const outputs = calls.halfSession(first.value.msg.value, { signal: call.signal })[
    Symbol.asyncIterator
  ]();
  let pumping: Promise<void> | undefined;
  let failure: { error: unknown } | undefined;
  try {
    const head = await outputs.next();
    if (head.done) return;
    if (head.value.msg.case !== "halfDuplex") {
      throw new Error("the relay's half-duplex session did not start with its handle");
    }
    const handle = head.value.msg.value;
    options.onHandle?.(handle);
    const batches = new Batches(
      source,
      (handle.maxInputBytes || DEFAULT_MAX_INPUT_BYTES) -
        CALL_OVERHEAD_BYTES,
    );
    pumping = (async () => {
      for (let batch = await batches.next(); batch; batch = await batches.next()) {
        await calls.sendInput(
          { sessionId: handle.sessionId, inputToken: handle.inputToken, frames: batch },
          { signal: call.signal, timeoutMs: INPUT_CALL_TIMEOUT_MS },
        );
      }
    })().catch((error) => {
      if (call.signal.aborted) return;
      if (isConnectError(error) && error.code === ConnectCode.NotFound) return;
      failure = { error };
      call.abort(error);
    });
    for (;;) {
      const next = await outputs.next().catch((error) => {
        throw failure?.error ?? error;
      });
      if (next.done) break;
      yield next.value;
    }
    if (failure) throw failure.error;
  } finally {
    options.signal?.removeEventListener("abort", follow);
    call.abort();
    await pumping;
  }
}

/** Input frames grouped into calls: what is queued now, under `maxBytes`, big data split. */
class Batches {
  #source: AsyncIterator<SessionInputInit>;
  #maxBytes: number;
  #pending?: Promise<IteratorResult<SessionInputInit>>;
  #held: SessionInputInit[] = [];
  #ended = false;

  constructor(source: AsyncIterator<SessionInputInit>, maxBytes: number) {
    this.#source = source;
    this.#maxBytes = maxBytes;
  }

  /** The next call's frames (waits for at least one); undefined once the input has ended. */
  async next(): Promise<SessionInputInit[] | undefined> {
    const batch: SessionInputInit[] = [];
    let bytes = 0;
    const add = (frame: SessionInputInit): boolean => {
      const size = sizeOf(frame);
      if (batch.length > 0 && bytes + size > this.#maxBytes) {
        this.#held.unshift(frame);
        return false;
      }
      batch.push(frame);
      bytes += size;
      return true;
    };
    while (this.#held.length > 0) {
      if (!add(this.#held.shift()!)) return batch;
    }
    if (batch.length === 0) {
      const frame = await this.#take(true);
      if (!frame) return undefined;
      add(frame);
    }
    for (;;) {
      const frame = await this.#take(false);
      if (!frame || !add(frame)) return batch;
    }
  }

  /** One frame (split when its data is big); with `wait` false, only one already queued. */
  async #take(wait: boolean): Promise<SessionInputInit | undefined> {
    if (this.#held.length > 0) return this.#held.shift();
    if (this.#ended) return undefined;
    this.#pending ??= this.#source.next();
    const next = wait ? await this.#pending : await Promise.race([this.#pending, macrotask()]);
    if (next === undefined) return undefined;
    this.#pending = undefined;
    if (next.done) {
      this.#ended = true;
      return undefined;
    }
    const frame = next.value;
    if (frame.msg?.case !== "data" || frame.msg.value.length <= MAX_DATA_FRAME_BYTES) return frame;
    const data = frame.msg.value;
    for (let at = MAX_DATA_FRAME_BYTES; at < data.length; at += MAX_DATA_FRAME_BYTES) {
      this.#held.push({
        msg: { case: "data", value: data.subarray(at, at + MAX_DATA_FRAME_BYTES) },
      });
    }
    return { msg: { case: "data", value: data.subarray(0, MAX_DATA_FRAME_BYTES) } };
  }
}

function sizeOf(frame: SessionInputInit): number {
  return 16 + (frame.msg?.case === "data" ? frame.msg.value.length : 0);
}

/** Resolves after what is already queued has run: frames pushed meanwhile join the batch. */
function macrotask(): Promise<undefined> {
  return new Promise((resolve) => setTimeout(() => resolve(undefined), 0));
}
