import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { OutputStream, SessionKind } from "../../gen/cmdop/v1/session_pb.ts";
import { decodeDialFrame } from "../protocol/lean/cmdop/v1/agent_lean.ts";
import { FakeSession } from "./_fake_session.ts";
import { type KeptProgram, KeptSession } from "./kept_session.ts";
import { encodeOutputFrame } from "./output_frame.ts";
import { pipeLike, type PipeWrite, written } from "./_pipe_like.ts";

/** A program that writes `writes` to its stdout and exits once they are read. */
function writingProgram(writes: PipeWrite[]): KeptProgram {
  const exit = Promise.withResolvers<{ code: number; signal: string }>();
  const stream = pipeLike(writes, () => exit.resolve({ code: 0, signal: "" }));
  return {
    pid: 0,
    outputs: [{ stream: OutputStream.STDOUT, readable: stream }],
    exited: exit.promise,
    drainAfterExitMs: Infinity,
    write: () => Promise.resolve(),
    endInput: () => {},
    resize: () => {},
    hangUp: () => Promise.resolve(),
  };
}

describe("KeptSession", () => {
  it("keeps what it sent intact while later output is read, and frames it as the encoder does", async () => {
    const writes: PipeWrite[] = [];
    for (let i = 0; i < 40; i++) {
      const size = [64 * 1024, 30 * 1024, 7, 64 * 1024, 1000][i % 5];
      writes.push({ bytes: new Uint8Array(size).fill(i + 1), pauseMs: i % 7 === 0 ? 15 : 0 });
    }
    const sent: { data: Uint8Array; copy: Uint8Array; frame: Uint8Array }[] = [];
    const session = new FakeSession({ kind: SessionKind.EXEC }, async (channel) => {
      const kept = new KeptSession(writingProgram(writes), {
        kind: SessionKind.EXEC,
        window: 8 << 20,
        owner: "",
        graceMs: 0,
        untrack: () => {},
        log: () => {},
      });
      await kept.attach({
        ...channel,
        send: (output) => {
          if (output.msg.case === "output") {
            const data = output.msg.value.data;
            sent.push({ data, copy: data.slice(), frame: encodeOutputFrame(output).slice() });
          }
          return channel.send(output);
        },
      }, 0);
    });
    await session.exited();
    const all = written(writes);
    let at = 0;
    for (const [i, { data, copy, frame }] of sent.entries()) {
      // The very bytes kept in the replay buffer: no later read went into their buffer.
      assert.deepEqual(data, copy, `frame ${i} changed after it was sent`);
      assert.deepEqual(copy, all.subarray(at, at + copy.length), `frame ${i}`);
      const decoded = decodeDialFrame(frame.subarray(5)).output?.msg;
      assert.equal(decoded?.case, "output");
      assert.deepEqual(decoded.value.data, copy);
      at += copy.length;
    }
    assert.equal(at, all.length);
    assert.ok(sent.length < writes.length, `${sent.length} frames for ${writes.length} writes`);
  });
});
