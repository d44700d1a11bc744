/** Tests of CastRecorder: asciicast v2 lines, the cap, and a writer that falls behind (a gap noted, the session never held). */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CastRecorder, type CastRecorderOptions, queueBudget } from "./cast_recorder.ts";

/** A recorder whose writes are collected; `hold` keeps every write waiting until released. */
function recorder(overrides: Partial<CastRecorderOptions> = {}, hold = false) {
  const written: Uint8Array[] = [];
  let release: () => void = () => {};
  let held = hold ? new Promise<void>((resolve) => release = resolve) : Promise.resolve();
  let time = 0;
  const options: CastRecorderOptions = {
    header: { version: 2, width: 80, height: 24 },
    capBytes: 1024 * 1024,
    queueBytes: 1024 * 1024,
    budget: queueBudget(64 * 1024 * 1024),
    write: async (bytes) => {
      await held;
      written.push(bytes.slice());
    },
    idle: () => Promise.resolve(),
    clock: () => time,
    failed: (error) => {
      throw error;
    },
    ...overrides,
  };
  return {
    recorder: new CastRecorder(options),
    advance: (ms: number) => time += ms,
    release: () => {
      release();
      held = Promise.resolve();
    },
    size: () => written.reduce((n, b) => n + b.length, 0),
    lines: () =>
      new TextDecoder().decode(new Uint8Array(written.flatMap((b) => [...b]))).split("\n")
        .filter((l) => l).map((l) => JSON.parse(l)),
  };
}

const bytes = (text: string) => new TextEncoder().encode(text);

describe("CastRecorder", () => {
  it("writes the header, output, stderr, resizes and the exit status as asciicast v2 lines", async () => {
    const r = recorder();
    r.advance(250);
    r.recorder.output(1, bytes("hello "));
    r.advance(250);
    r.recorder.resize(100, 30);
    r.recorder.output(2, bytes("oops\n"));
    r.recorder.exit(7);
    const result = await r.recorder.end();
    assert.deepEqual(r.lines(), [
      { version: 2, width: 80, height: 24 },
      [0.25, "o", "hello "],
      [0.5, "r", "100x30"],
      [0.5, "e", "oops\n"],
      [0.5, "x", "7"],
    ]);
    assert.equal(result.exitCode, 7);
    assert.equal(result.outputBytes, 11);
    assert.equal(result.truncated, false);
    assert.equal(result.bytes, r.size());
  });

  it("keeps a character split between two frames whole", async () => {
    const r = recorder();
    const euro = bytes("€");
    r.recorder.output(1, euro.subarray(0, 1));
    r.recorder.output(1, euro.subarray(1));
    await r.recorder.end();
    assert.equal(r.lines().slice(1).map((e) => e[2]).join(""), "€");
  });

  it("stops at its cap with a marker, and still counts the output", async () => {
    const r = recorder({ capBytes: 10 });
    r.recorder.output(1, bytes("0123456"));
    r.recorder.output(1, bytes("789abcdef"));
    r.recorder.output(1, bytes("more"));
    const result = await r.recorder.end();
    const events = r.lines().slice(1);
    assert.equal(events.filter((e) => e[1] === "o").map((e) => e[2]).join(""), "0123456789");
    assert.match(events.at(-1)[2], /cap of 10 bytes/);
    assert.equal(result.truncated, true);
    assert.equal(result.outputBytes, 20);
  });

  it("leaves output out, and says how much, when its writer falls behind its queue's bound", async () => {
    const r = recorder({ queueBytes: 100 }, true);
    for (let i = 0; i < 10; i++) r.recorder.output(1, bytes("x".repeat(30)));
    // Every call returned at once although nothing was written: the session was never held.
    r.release();
    r.recorder.output(1, bytes("after"));
    const result = await r.recorder.end();
    const events = r.lines().slice(1);
    const recorded = events.filter((e) => e[1] === "o").map((e) => e[2]).join("");
    assert.equal(recorded, "x".repeat(90) + "after");
    assert.equal(result.gapBytes, 210);
    const marker = events.find((e) => e[1] === "m");
    assert.match(marker[2], /210 bytes of output are missing here/);
    // The marker stands where the output went missing: before what came after.
    assert.ok(events.indexOf(marker) < events.findIndex((e) => e[2] === "after"));
  });

  it("shares one bound among every recording of the relay", async () => {
    const budget = queueBudget(100);
    const a = recorder({ budget }, true);
    const b = recorder({ budget }, true);
    a.recorder.output(1, bytes("a".repeat(80)));
    b.recorder.output(1, bytes("b".repeat(80)));
    assert.equal(budget.used, 80);
    a.release();
    b.release();
    await Promise.all([a.recorder.end(), b.recorder.end()]);
    assert.equal((await b.recorder.end()).gapBytes, 80);
    assert.equal(budget.used, 0);
  });

  it("stops recording, and tells once, when a write fails; the session's calls still return", async () => {
    const failures: unknown[] = [];
    const r = recorder({
      write: () => Promise.reject(new Error("disk full")),
      failed: (error) => failures.push(error),
    });
    r.recorder.output(1, bytes("lost"));
    const result = await r.recorder.end();
    r.recorder.output(1, bytes("after the end"));
    assert.equal(failures.length, 1);
    assert.equal(result.bytes, 0);
  });
});
