/** Session frames on NATS: encoding, splitting to fit a message, a credit meter and a byte-bounded frame queue. */
import type { SessionInput, SessionOutput } from "../../../gen/cmdop/v1/session_pb.ts";
import {
  decodeSessionInput,
  decodeSessionOutput,
  encodeSessionInput,
  encodeSessionOutput,
} from "../../protocol/lean/cmdop/v1/session_lean.ts";
import { ENCODED, ENVELOPE_HEAD, type SplicedOutput } from "../wire/dial_frame.ts";
import type { SplicedInput } from "../wire/session_input.ts";

/** Data frames larger than this are cut in pieces; NATS refuses messages over its max_payload (1 MiB by default). */
export const MAX_CHUNK_BYTES = 256 * 1024;

/** An empty message ends a direction: no encoded frame is empty, because every frame sets its oneof. */
export const END_OF_STREAM = new Uint8Array(0);

/**
 * Encodes a client-to-agent frame, in pieces when its data is large; each
 * piece is one NATS message. A frame that fits in one and carries the client's encoding
 * (wire/session_input.ts) is sent as those very bytes.
 *
 * @example
 * ```ts
 * for (const bytes of encodeInputs(frame)) nc.publish(Subjects.sessionIn(id), bytes);
 * ```
 */
export function encodeInputs(input: SessionInput): Uint8Array[] {
  if (input.msg.case !== "data" || input.msg.value.length <= MAX_CHUNK_BYTES) {
    const encoded = (input as SplicedInput)[ENCODED];
    return [encoded ? encoded.subarray(ENVELOPE_HEAD) : encodeSessionInput(input)];
  }
  return chunks(input.msg.value).map((data) =>
    encodeSessionInput({ msg: { case: "data", value: data } })
  );
}

/**
 * Encodes an agent-to-client frame, in pieces when its output is large. A frame that fits in one
 * message and carries the agent's encoding (wire/dial_frame.ts) is sent as those very bytes; a
 * larger one is cut and its pieces encoded (the lean codec: one copy of the data).
 */
export function encodeOutputs(output: SessionOutput): Uint8Array[] {
  if (output.msg.case !== "output" || output.msg.value.data.length <= MAX_CHUNK_BYTES) {
    const encoded = (output as SplicedOutput)[ENCODED];
    return [encoded ? encoded.subarray(ENVELOPE_HEAD) : encodeSessionOutput(output)];
  }
  const stream = output.msg.value.stream;
  return chunks(output.msg.value.data).map((data) =>
    encodeSessionOutput({ msg: { case: "output", value: { stream, data } } })
  );
}

/** Decodes a client-to-agent frame from a NATS message (never {@linkcode END_OF_STREAM}). */
export function decodeInput(bytes: Uint8Array): SessionInput {
  return decodeSessionInput(bytes);
}

/** Decodes an agent-to-client frame from a NATS message (never {@linkcode END_OF_STREAM}). */
export function decodeOutput(bytes: Uint8Array): SessionOutput {
  return decodeSessionOutput(bytes);
}

function chunks(data: Uint8Array): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  for (let at = 0; at < data.length; at += MAX_CHUNK_BYTES) {
    pieces.push(data.subarray(at, at + MAX_CHUNK_BYTES));
  }
  return pieces;
}

/**
 * Bytes a sender has in flight against its receiver's window. Senders may
 * overshoot by one read per stream (a whole chunk is sent once any credit is
 * left), hence the slack; beyond it the peer is not honouring flow control.
 *
 * @example
 * ```ts
 * const meter = new CreditMeter(4 << 20, 256 << 10);
 * if (!meter.sent(chunk.length)) hangUp(); // on each output frame
 * meter.credited(credit);                  // on each credit frame
 * ```
 */
export class CreditMeter {
  #inFlight = 0;
  constructor(public window: number, readonly slack: number) {}

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Counts sent bytes; false once they exceed window and slack. */
  sent(bytes: number): boolean {
    this.#inFlight += bytes;
    return this.#inFlight <= this.window + this.slack;
  }

  credited(bytes: number): void {
    this.#inFlight -= bytes;
  }
}

/**
 * A push-to-pull frame queue whose consumer's pace bounds it: the producer is metered elsewhere.
 *
 * @example
 * ```ts
 * const queue = new FrameQueue<SessionOutput>();
 * queue.push(frame);
 * queue.close();
 * for await (const f of queue) send(f);
 * ```
 */
export class FrameQueue<T> implements AsyncIterable<T> {
  #items: T[] = [];
  #waiter?: (result: IteratorResult<T>) => void;
  #closed = false;

  get size(): number {
    return this.#items.length;
  }

  push(item: T): void {
    if (this.#closed) return;
    if (this.#waiter) {
      const waiter = this.#waiter;
      this.#waiter = undefined;
      waiter({ value: item, done: false });
    } else this.#items.push(item);
  }

  /** Ends iteration after the queued items; `drop` discards them (the peer broke its contract). */
  close(drop = false): void {
    if (drop) this.#items.length = 0;
    if (this.#closed) return;
    this.#closed = true;
    this.#waiter?.({ value: undefined, done: true });
    this.#waiter = undefined;
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        if (this.#items.length > 0) {
          return Promise.resolve({ value: this.#items.shift()!, done: false });
        }
        if (this.#closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => this.#waiter = resolve);
      },
      return: () => {
        this.close(true);
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
