import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { OutputStream } from "../../gen/cmdop/v1/session_pb.ts";
import { encodeDialFrame } from "../protocol/lean/cmdop/v1/agent_lean.ts";
import { encodeOutputFrame, FRAME_ROOM, outputData, withRoom } from "./output_frame.ts";

/** Payload sizes on both sides of each point where a varint in the frame's header grows. */
function sizesAroundVarintBoundaries(): number[] {
  const sizes = new Set<number>([1, 2]);
  for (const boundary of [1 << 7, 1 << 14, 1 << 21]) {
    // The Output's and SessionOutput's lengths cross a boundary a few bytes before the data's.
    for (let n = boundary - 12; n <= boundary + 4; n++) sizes.add(n);
  }
  return [...sizes];
}

function payload(n: number): Uint8Array {
  const out = new Uint8Array(FRAME_ROOM + n);
  for (let i = 0; i < n; i++) out[FRAME_ROOM + i] = (i * 31 + 7) & 0xff;
  return withRoom(out.subarray(FRAME_ROOM));
}

describe("encodeOutputFrame()", () => {
  it("writes the bytes the lean encoder writes, for payloads around varint boundaries", () => {
    const streams = [OutputStream.UNSPECIFIED, OutputStream.STDOUT, OutputStream.STDERR];
    for (const stream of streams) {
      for (const n of sizesAroundVarintBoundaries()) {
        const data = payload(n);
        const expected = encodeDialFrame({ output: outputData(stream, data.slice()) }, 5);
        const framed = encodeOutputFrame(outputData(stream, data));
        // The 5 envelope bytes are filled later: only what follows them is compared.
        assert.deepEqual(framed.subarray(5), expected.subarray(5), `stream ${stream}, ${n} bytes`);
        assert.equal(framed.length, expected.length, `stream ${stream}, ${n} bytes`);
      }
    }
  });

  it("frames data with room in front where it lies, without copying it", () => {
    const data = payload(100_000);
    const framed = encodeOutputFrame(outputData(OutputStream.STDOUT, data));
    assert.equal(framed.buffer, data.buffer);
    assert.equal(framed.byteOffset + framed.length, data.byteOffset + data.length);
    // Framed again (a resumed stream resends a kept chunk): the same bytes.
    const before = framed.slice();
    const again = encodeOutputFrame(outputData(OutputStream.STDOUT, data));
    assert.deepEqual(again, before);
  });

  it("encodes data without room, and other frames, as the lean encoder does", () => {
    const plain = new Uint8Array(300).fill(9);
    const output = outputData(OutputStream.STDERR, plain);
    assert.deepEqual(encodeOutputFrame(output), encodeDialFrame({ output }, 5));
    assert.notEqual(encodeOutputFrame(output).buffer, plain.buffer);
    const cut = payload(1000).subarray(10);
    const fromCut = encodeOutputFrame(outputData(OutputStream.STDOUT, cut));
    assert.notEqual(fromCut.buffer, cut.buffer);
    assert.deepEqual(
      fromCut,
      encodeDialFrame({ output: outputData(OutputStream.STDOUT, cut) }, 5),
    );
  });
});
