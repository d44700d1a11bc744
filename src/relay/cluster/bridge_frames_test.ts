import { describe, it } from "../../../tests/_suite.ts";
import assert from "node:assert/strict";
import { decodeSessionInput } from "../../protocol/lean/cmdop/v1/session_lean.ts";
import { readSessionInput } from "../wire/session_input.ts";
import { encodeInputs, MAX_CHUNK_BYTES } from "./bridge_frames.ts";

/** A message behind 5 bytes of room, as a request body's envelope leaves it. */
function inEnvelope(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + message.length);
  out.set(message, 5);
  return out.subarray(5);
}

describe("encodeInputs()", () => {
  it("publishes a client's frame as the bytes the client encoded", () => {
    // A data frame whose length takes two varint bytes: valid, not what an encoder writes.
    const padded = new Uint8Array([0x12, 0x81, 0x00, 0x61]);
    const [bytes, ...rest] = encodeInputs(readSessionInput(inEnvelope(padded)));
    assert.deepEqual([...bytes], [...padded]);
    assert.equal(rest.length, 0);
  });

  it("still cuts data larger than a NATS message into encoded pieces", () => {
    const data = new Uint8Array(MAX_CHUNK_BYTES + 10).fill(7);
    const message = new Uint8Array([0x12, ...varint(data.length), ...data]);
    const pieces = encodeInputs(readSessionInput(inEnvelope(message)));
    assert.equal(pieces.length, 2);
    const joined = pieces.map((p) => decodeSessionInput(p).msg.value as Uint8Array);
    assert.deepEqual(joined.map((d) => d.length), [MAX_CHUNK_BYTES, 10]);
  });
});

function varint(n: number): number[] {
  const out = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}
