import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CreditGate } from "../lib/credit.ts";
import { FRAME_ROOM, hasRoom } from "./output_frame.ts";
import { type FrameAdmission, OutputReader } from "./output_reader.ts";
import { numberedWrites, pipeLike, type PipeWrite, written } from "./_pipe_like.ts";

const unlimited: FrameAdmission = { first: () => Promise.resolve(true), join: () => true };

async function readAll(reader: OutputReader, admit = unlimited): Promise<Uint8Array[]> {
  const frames = [];
  for (let f = await reader.next(admit); f; f = await reader.next(admit)) frames.push(f);
  return frames;
}

function joined(frames: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  let at = 0;
  for (const f of frames) {
    out.set(f, at);
    at += f.length;
  }
  return out;
}

describe("OutputReader", () => {
  it("reads a byte stream into frames with room in front, joining reads already waiting", async () => {
    const writes = numberedWrites(10, 64 * 1024);
    const frames = await readAll(new OutputReader(pipeLike(writes), 256 * 1024));
    assert.ok(frames.length < writes.length, `${frames.length} frames`);
    for (const frame of frames) {
      assert.ok(frame.length <= 256 * 1024);
      assert.ok(hasRoom(frame));
      assert.ok(frame.byteOffset >= FRAME_ROOM);
    }
    assert.deepEqual(joined(frames), written(writes));
  });

  it("sends a big read on when nothing follows it within a tick, and a small one at once", async () => {
    const writes: PipeWrite[] = [
      { bytes: new Uint8Array(20 * 1024).fill(1) },
      { bytes: new Uint8Array(64 * 1024).fill(2), pauseMs: 300 },
      { bytes: new Uint8Array(10).fill(3), pauseMs: 300 },
    ];
    const reader = new OutputReader(pipeLike(writes));
    const started = performance.now();
    const first = await reader.next(unlimited);
    assert.equal(first?.length, 20 * 1024);
    assert.ok(performance.now() - started < 250, "the first frame waited for the paused writer");
    assert.deepEqual(await reader.next(unlimited), writes[1].bytes);
    assert.deepEqual(await reader.next(unlimited), writes[2].bytes);
    assert.equal(await reader.next(unlimited), undefined);
  });

  it("never reads into a buffer it handed out", async () => {
    const writes: PipeWrite[] = [];
    for (let i = 0; i < 12; i++) {
      const size = [5, 64 * 1024, 20 * 1024, 300][i % 4];
      writes.push({ bytes: new Uint8Array(size).fill(i + 1), pauseMs: i % 3 === 0 ? 20 : 0 });
    }
    const reader = new OutputReader(pipeLike(writes));
    const frames: Uint8Array[] = [];
    const copies: Uint8Array[] = [];
    for (let f = await reader.next(unlimited); f; f = await reader.next(unlimited)) {
      frames.push(f);
      copies.push(f.slice());
    }
    // Every frame handed out still holds what it held then, after all the reads that followed.
    frames.forEach((frame, i) => assert.deepEqual(frame, copies[i], `frame ${i}`));
    assert.deepEqual(joined(frames), written(writes));
  });

  it("overshoots the credit by no more than the first read of a frame", async () => {
    const window = 100 * 1024;
    const gate = new CreditGate(window);
    const admit = { first: (n: number) => gate.take(n), join: (n: number) => gate.tryTake(n) };
    const reader = new OutputReader(pipeLike(numberedWrites(8, 64 * 1024)));
    let sent = 0;
    let granted = 0;
    for (let f = await reader.next(admit); f; f = await reader.next(admit)) {
      sent += f.length;
      // In flight: what was sent and not credited back yet.
      assert.ok(sent - granted <= window + 64 * 1024, `${sent - granted} bytes in flight`);
      assert.equal(gate.available, window - (sent - granted));
      gate.grant(f.length);
      granted += f.length;
    }
    assert.equal(sent, 8 * 64 * 1024);
  });

  it("copies a plain stream's chunks into frames with room", async () => {
    const chunks = [new Uint8Array([1, 2]), new Uint8Array(40_000).fill(7), new Uint8Array([3])];
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(chunk);
        controller.close();
      },
    });
    const frames = await readAll(new OutputReader(stream));
    assert.ok(frames.every(hasRoom));
    assert.deepEqual(joined(frames), joined(chunks));
  });
});
