/** Reads an agent's DialFrame by its tags: the session it names and its SessionOutput, as a slice to forward unchanged. */
import type { SessionOutput } from "../../../gen/cmdop/v1/session_pb.ts";
import { decodeDialFrame } from "../../protocol/lean/cmdop/v1/agent_lean.ts";
import { decodeSessionOutput } from "../../protocol/lean/cmdop/v1/session_lean.ts";

/** Bytes in front of a forwarded message for its Connect envelope header (flags, 32-bit length). */
export const ENVELOPE_HEAD = 5;

/**
 * Where a SessionOutput decoded from an agent's frame keeps its own bytes, ready to be sent on:
 * `ENVELOPE_HEAD` bytes of room (this frame's own, already read) and then the message exactly as
 * the agent encoded it. The relay writes the envelope header into the room and sends the view:
 * no re-encoding, no copy. A frame the relay builds or changes has none, and is encoded.
 */
export const ENCODED = Symbol("cmdop.encoded");

/** A SessionOutput that may carry its encoding (see {@linkcode ENCODED}). */
export type SplicedOutput = SessionOutput & { [ENCODED]?: Uint8Array };

/** What {@linkcode readDialFrame} found. */
export interface DialFrameParts {
  /** Field 1, when present (agents send it on the first frame; older ones on every frame). */
  sessionId?: string;
  /** Field 2, decoded (its bytes views of the frame's), carrying its encoding; undefined when absent. */
  output?: SplicedOutput;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Reads a `cmdop.v1.DialFrame` (`string session_id = 1; SessionOutput output = 2;`). When the
 * frame holds each field at most once and nothing else, the output is decoded from its slice of
 * `frame` and carries that slice behind `ENVELOPE_HEAD` bytes of room; `frame` must then have
 * that many bytes of its own before it in its buffer (its envelope header, already read). Any other
 * well-formed frame (a field twice, which protobuf merges; unknown fields) is decoded in full, as
 * protobuf-es would, without an encoding to forward. A malformed frame throws.
 *
 * @example
 * ```ts
 * const { output } = readDialFrame(envelopeData);
 * if (output) send(output);
 * ```
 */
export function readDialFrame(frame: Uint8Array): DialFrameParts {
  let pos = 0;
  let sessionId: string | undefined;
  let outStart = -1;
  let outEnd = -1;
  let plain = true;
  while (pos < frame.length) {
    const [tag, afterTag] = varint(frame, pos);
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 0) throw malformed("field number 0");
    if (wire === 2) {
      const [length, start] = varint(frame, afterTag);
      const end = start + length;
      if (end > frame.length) throw malformed("a length past the end of the frame");
      if (field === 1) {
        if (sessionId !== undefined) plain = false;
        sessionId = decoder.decode(frame.subarray(start, end));
      } else if (field === 2) {
        if (outStart >= 0) plain = false;
        outStart = start;
        outEnd = end;
      } else plain = false;
      pos = end;
    } else {
      // Fields 1 and 2 are length-delimited: anything else is an unknown field, skipped here.
      if (field === 1 || field === 2) throw malformed(`field ${field} with wire type ${wire}`);
      plain = false;
      pos = skipScalar(frame, afterTag, wire);
    }
  }
  if (!plain) {
    // A field twice (merged) or unknown fields: the generated decoder reads it as protobuf-es does.
    const whole = decodeDialFrame(frame);
    return { sessionId: whole.sessionId || sessionId, output: whole.output };
  }
  if (outStart < 0) return { sessionId };
  if (frame.byteOffset + outStart < ENVELOPE_HEAD) throw new RangeError("no room for a header");
  const slice = frame.subarray(outStart, outEnd);
  const output: SplicedOutput = decodeSessionOutput(slice);
  // Not enumerable: a copy of the frame (`{ ...frame }`, possibly changed) does not carry it.
  Object.defineProperty(output, ENCODED, {
    value: new Uint8Array(
      frame.buffer,
      frame.byteOffset + outStart - ENVELOPE_HEAD,
      ENVELOPE_HEAD + slice.length,
    ),
  });
  return { sessionId, output };
}

/** A varint (up to 32 significant bits: tags and lengths) and the position after it. */
function varint(bytes: Uint8Array, pos: number): [number, number] {
  let value = 0;
  for (let shift = 0; shift < 35; shift += 7) {
    if (pos >= bytes.length) throw malformed("a varint cut short");
    const byte = bytes[pos++];
    value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) {
      if (value > 0xffffffff) throw malformed("a varint past 32 bits");
      return [value, pos];
    }
  }
  throw malformed("a varint past 32 bits");
}

function skipScalar(bytes: Uint8Array, pos: number, wire: number): number {
  if (wire === 0) {
    for (let i = 0; i < 10; i++) {
      if (pos >= bytes.length) throw malformed("a varint cut short");
      if (bytes[pos++] < 0x80) return pos;
    }
    throw malformed("a varint of more than 10 bytes");
  }
  const size = wire === 1 ? 8 : wire === 5 ? 4 : -1;
  if (size < 0) throw malformed(`wire type ${wire}`);
  if (pos + size > bytes.length) throw malformed("a fixed-size field cut short");
  return pos + size;
}

function malformed(what: string): Error {
  return new Error(`malformed DialFrame: ${what}`);
}
