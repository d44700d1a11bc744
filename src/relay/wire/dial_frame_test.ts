import { describe, it } from "../../../tests/_suite.ts";
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { DialFrameSchema } from "../../../gen/cmdop/v1/agent_pb.ts";
import { SessionOutputSchema } from "../../../gen/cmdop/v1/session_pb.ts";
import { decodeDialFrame } from "../../protocol/lean/cmdop/v1/agent_lean.ts";
import { ENCODED, ENVELOPE_HEAD, readDialFrame } from "./dial_frame.ts";

/** `bytes` behind an envelope header, as the relay's envelope splitter hands a message on. */
function enveloped(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(ENVELOPE_HEAD + bytes.length);
  out.set(bytes, ENVELOPE_HEAD);
  return out.subarray(ENVELOPE_HEAD);
}

const data = new Uint8Array(300_000).map((_, i) => i % 253);
const FRAMES = [
  { sessionId: "9b128987-d9b6-4c6b-9a1c-2a206ec0bb20" },
  { output: { msg: { case: "output" as const, value: { stream: 2, data } } } },
  { output: { msg: { case: "output" as const, value: { stream: 1, data: new Uint8Array(1) } } } },
  { sessionId: "s", output: { msg: { case: "exit" as const, value: { code: 3, signal: "x" } } } },
  { output: { msg: { case: "credit" as const, value: 4096 } } },
  { output: { msg: { case: "ready" as const, value: { windowBytes: 1 << 20 } } } },
  { output: {} },
  {},
];

describe("readDialFrame()", () => {
  it("reads what the generated decoder reads, and keeps the output's own bytes to forward", () => {
    for (const init of FRAMES) {
      const bytes = toBinary(DialFrameSchema, create(DialFrameSchema, init));
      const parts = readDialFrame(enveloped(bytes));
      const whole = decodeDialFrame(bytes);
      assert.equal(parts.sessionId ?? "", whole.sessionId);
      assert.deepEqual(parts.output, whole.output);
      if (!init.output) continue;
      const forwarded = parts.output![ENCODED]!;
      assert.equal(forwarded.length, ENVELOPE_HEAD + (forwarded.length - ENVELOPE_HEAD));
      assert.deepEqual(
        forwarded.subarray(ENVELOPE_HEAD),
        toBinary(SessionOutputSchema, create(SessionOutputSchema, init.output)),
      );
    }
  });

  it("gives output data as a view of the frame, not a copy", () => {
    const bytes = enveloped(toBinary(DialFrameSchema, create(DialFrameSchema, FRAMES[1])));
    const output = readDialFrame(bytes).output!;
    assert.equal(output.msg.case, "output");
    if (output.msg.case === "output") assert.equal(output.msg.value.data.buffer, bytes.buffer);
  });

  it("decodes a frame with repeated or unknown fields in full, with nothing to forward unchanged", () => {
    const first = toBinary(DialFrameSchema, create(DialFrameSchema, FRAMES[3]));
    const second = toBinary(DialFrameSchema, create(DialFrameSchema, FRAMES[2]));
    // Field 2 twice (protobuf merges: the later oneof case wins), then an unknown varint field 9.
    const merged = new Uint8Array([...first, ...second, 0x48, 0x01]);
    const parts = readDialFrame(enveloped(merged));
    assert.deepEqual(parts.output, decodeDialFrame(merged).output);
    assert.equal(parts.output![ENCODED], undefined);
    assert.equal(parts.sessionId, "s");
  });

  it("throws on malformed and cut frames, never reading past them", () => {
    const good = toBinary(DialFrameSchema, create(DialFrameSchema, FRAMES[3]));
    // Cut anywhere but after the session id (3 bytes: a whole frame of its own).
    for (let cut = 1; cut < good.length; cut++) {
      if (cut === 3) continue;
      assert.throws(() => readDialFrame(enveloped(good.subarray(0, cut))), Error, `cut ${cut}`);
    }
    const bad = [
      [0x00], // field 0
      [0x08, 0x01], // field 1 as a varint
      [0x12, 0xff, 0xff, 0xff, 0xff, 0x0f], // a 4 GiB length in a 6-byte frame
      [0x12, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], // a varint past 32 bits
      [0x1b], // a group (wire type 3)
      [0x1f], // wire type 7
      [0x48, ...new Array(11).fill(0xff)], // a varint of more than 10 bytes
      [0x0a, 0x02, 0xc3, 0x28], // a session id that is not UTF-8
      [0x4d, 0x01, 0x02], // a fixed32 cut short
    ];
    for (const frame of bad) {
      assert.throws(() => readDialFrame(enveloped(new Uint8Array(frame))), Error, `${frame}`);
    }
  });

  it("survives random bytes: each parses or throws an Error", () => {
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    for (let round = 0; round < 20_000; round++) {
      const frame = new Uint8Array(Math.floor(random() * 24)).map(() => Math.floor(random() * 256));
      try {
        readDialFrame(enveloped(frame));
      } catch (error) {
        assert.ok(error instanceof Error);
      }
    }
  });

  it("refuses to splice a frame with no room for a header in front", () => {
    const bytes = toBinary(DialFrameSchema, create(DialFrameSchema, FRAMES[2]));
    assert.throws(() => readDialFrame(bytes), /no room for a header/);
  });
});
