/** Reads a client's SessionInput so that the relay can send it on to the agent as the bytes the client encoded. */
import type { SessionInput } from "../../../gen/cmdop/v1/session_pb.ts";
import { decodeSessionInput } from "../../protocol/lean/cmdop/v1/session_lean.ts";
import { ENCODED, ENVELOPE_HEAD } from "./dial_frame.ts";

/**
 * A SessionInput that may carry its encoding, as an agent's output does (see
 * {@linkcode ENCODED}): `ENVELOPE_HEAD` bytes of room, then the message as the client encoded it.
 * A frame the relay builds or changes has none, and is encoded.
 */
export type SplicedInput = SessionInput & { [ENCODED]?: Uint8Array };

/**
 * Decodes a client's frame (an envelope's message, with its 5 header bytes in front of it in the
 * same buffer). A frame of exactly one field, as clients write them, carries its own bytes to
 * send on; any other (a field twice, which protobuf merges; unknown fields; none) is sent on
 * re-encoded, as before. A malformed frame throws.
 *
 * @example
 * ```ts
 * const input = readSessionInput(envelopeData);
 * dialed.send(input); // the dial stream sends input[ENCODED] when it is there
 * ```
 */
export function readSessionInput(bytes: Uint8Array): SplicedInput {
  const input: SplicedInput = decodeSessionInput(bytes);
  if (bytes.byteOffset >= ENVELOPE_HEAD && oneField(bytes)) {
    // Not enumerable: a copy of the frame (`{ ...input }`, possibly changed) does not carry it.
    Object.defineProperty(input, ENCODED, {
      value: new Uint8Array(
        bytes.buffer,
        bytes.byteOffset - ENVELOPE_HEAD,
        ENVELOPE_HEAD + bytes.length,
      ),
    });
  }
  return input;
}

/** Whether `bytes` (already decoded, so well-formed) is one field and nothing else. */
function oneField(bytes: Uint8Array): boolean {
  // A one-byte tag: SessionInput's fields are 1 to 7.
  if (bytes.length === 0 || bytes[0] >= 0x80) return false;
  const wire = bytes[0] & 7;
  let pos = 1;
  if (wire === 0) pos = skipVarint(bytes, pos);
  else if (wire === 2) {
    let length = 0;
    for (let shift = 0; pos < bytes.length; shift += 7) {
      const byte = bytes[pos++];
      length += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) break;
    }
    pos += length;
  } else return false;
  return pos === bytes.length;
}

function skipVarint(bytes: Uint8Array, pos: number): number {
  while (pos < bytes.length && bytes[pos++] >= 0x80) { /* continuation */ }
  return pos;
}
