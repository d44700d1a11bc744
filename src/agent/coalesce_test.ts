import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CreditGate } from "../lib/credit.ts";
import { creditedFrames } from "./coalesce.ts";

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
}

describe("creditedFrames()", () => {
  it("passes small reads on as they are", async () => {
    const chunks = [new Uint8Array([1, 2]), new Uint8Array([3])];
    const frames = [];
    for await (const f of creditedFrames(streamOf(chunks), new CreditGate(1 << 20))) frames.push(f);
    assert.deepEqual(frames, chunks);
  });

  it("joins waiting reads up to the limit, keeping every byte in order", async () => {
    const chunks = Array.from({ length: 10 }, (_, i) => new Uint8Array(64 * 1024).fill(i));
    const frames = [];
    for await (const f of creditedFrames(streamOf(chunks), new CreditGate(1 << 30), 256 * 1024)) {
      frames.push(f);
    }
    assert.ok(frames.length < chunks.length);
    assert.ok(frames.every((f) => f.length <= 256 * 1024));
    const joined = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
    let at = 0;
    for (const f of frames) joined.set(f, (at += f.length) - f.length);
    assert.deepEqual(joined, new Uint8Array(10 * 64 * 1024).map((_, i) => Math.floor(i / 65536)));
  });

  it("overshoots the window by no more than the first read of a frame", async () => {
    const gate = new CreditGate(100 * 1024);
    const chunks = Array.from({ length: 4 }, () => new Uint8Array(64 * 1024));
    const sizes: number[] = [];
    for await (const frame of creditedFrames(streamOf(chunks), gate)) {
      sizes.push(frame.length);
      assert.ok(gate.available > -64 * 1024, `window overshot to ${gate.available}`);
      gate.grant(frame.length);
    }
    assert.equal(sizes.reduce((a, b) => a + b, 0), 4 * 64 * 1024);
  });
});
