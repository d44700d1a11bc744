/** Output frames built around bytes read into room left for them: the DialFrame's tags and lengths written in front, as the lean encoder writes them. */
import { OutputStream, type SessionOutput } from "../../gen/cmdop/v1/session_pb.ts";
import { encodeDialFrame } from "../protocol/lean/cmdop/v1/agent_lean.ts";

/**
 * Bytes kept free in front of output read into a frame buffer: the envelope header (5), the
 * DialFrame's and the SessionOutput's tag and length (1 + 5 each), the Output's stream field (2)
 * and its data's tag and length (1 + 5).
 */
export const FRAME_ROOM = 32;
/** Spare bytes in front of every encoded frame, filled with the envelope header by `connect_lite.ts`. */
const ENVELOPE_HEAD = 5;
/** DialFrame.output, SessionOutput.output, Output.data: field 2, length-delimited. */
const TAG_FIELD_2 = 18;
/** Output.stream: field 1, varint. */
const TAG_STREAM = 8;

/** Views with {@linkcode FRAME_ROOM} bytes of their own buffer free in front of them. */
const roomy = new WeakSet<Uint8Array>();

/**
 * Marks `view` as having {@linkcode FRAME_ROOM} free bytes in front of it in its buffer, which
 * nothing else uses: its output frame is written there instead of copying it.
 *
 * @example
 * ```ts
 * const buffer = new Uint8Array(FRAME_ROOM + 4096);
 * const n = readInto(buffer.subarray(FRAME_ROOM));
 * channel.send(outputData(OutputStream.STDOUT, withRoom(buffer.subarray(FRAME_ROOM, FRAME_ROOM + n))));
 * ```
 */
export function withRoom(view: Uint8Array): Uint8Array {
  if (view.byteOffset < FRAME_ROOM) throw new RangeError("no room in front of the view");
  roomy.add(view);
  return view;
}

/** Whether `view` was marked by {@linkcode withRoom}. */
export function hasRoom(view: Uint8Array): boolean {
  return roomy.has(view);
}

/**
 * An `output` frame as `outputFrame()` makes it, without protobuf-es's `create()`: `data` is
 * kept as it is (the same view), so a view marked by {@linkcode withRoom} is framed in place.
 */
export function outputData(stream: OutputStream, data: Uint8Array): SessionOutput {
  return {
    $typeName: "cmdop.v1.SessionOutput",
    msg: { case: "output", value: { $typeName: "cmdop.v1.Output", stream, data } },
  };
}

/**
 * Encodes `{ output }` as a DialFrame behind 5 spare bytes, exactly as
 * `encodeDialFrame({ output }, 5)` does. Output whose data has room in front
 * ({@linkcode withRoom}) is not copied: its header is written into that room and the frame is a
 * view of the same buffer. Writing it again (a resumed stream resends a kept chunk) writes the
 * same bytes.
 *
 * @example
 * ```ts
 * outbound.push(encodeOutputFrame(outputData(OutputStream.STDOUT, frame)));
 * ```
 */
export function encodeOutputFrame(output: SessionOutput): Uint8Array {
  const msg = output.msg;
  if (msg.case === "output" && roomy.has(msg.value.data)) {
    const { stream, data } = msg.value;
    const plain = output.$unknown === undefined && msg.value.$unknown === undefined;
    if (plain && data.length > 0 && stream >= 0 && stream < 128) {
      return frameInPlace(stream, data);
    }
  }
  return encodeDialFrame({ output }, ENVELOPE_HEAD);
}

function frameInPlace(stream: OutputStream, data: Uint8Array): Uint8Array {
  const n = data.length;
  const outputLength = (stream !== OutputStream.UNSPECIFIED ? 2 : 0) + 1 + varintSize(n) + n;
  const sessionOutputLength = 1 + varintSize(outputLength) + outputLength;
  const head = ENVELOPE_HEAD + 1 + varintSize(sessionOutputLength) + 1 +
    varintSize(outputLength) + outputLength - n;
  const frame = new Uint8Array(data.buffer, data.byteOffset - head, head + n);
  let at = ENVELOPE_HEAD;
  frame[at++] = TAG_FIELD_2;
  at = writeVarint(frame, at, sessionOutputLength);
  frame[at++] = TAG_FIELD_2;
  at = writeVarint(frame, at, outputLength);
  if (stream !== OutputStream.UNSPECIFIED) {
    frame[at++] = TAG_STREAM;
    frame[at++] = stream;
  }
  frame[at++] = TAG_FIELD_2;
  writeVarint(frame, at, n);
  return frame;
}

function varintSize(value: number): number {
  let size = 1;
  while (value > 0x7f) {
    value >>>= 7;
    size++;
  }
  return size;
}

function writeVarint(out: Uint8Array, at: number, value: number): number {
  while (value > 0x7f) {
    out[at++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  out[at++] = value;
  return at;
}
