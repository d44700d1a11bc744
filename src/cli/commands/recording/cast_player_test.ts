/** Tests of playCast: events at their time (divided by --speed, capped by --idle-limit), stdout and stderr apart, bad recordings named. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { MalformedCastError, playCast } from "./cast_player.ts";

/** A recording split into chunks of 7 bytes, so that lines and characters straddle them. */
async function* chunked(text: string): AsyncGenerator<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  for (let at = 0; at < bytes.length; at += 7) yield bytes.subarray(at, at + 7);
}

function player() {
  const out: string[] = [];
  const err: string[] = [];
  const sleeps: number[] = [];
  return {
    out,
    err,
    sleeps,
    io: {
      stdout: (text: string) => Promise.resolve(void out.push(text)),
      stderr: (text: string) => Promise.resolve(void err.push(text)),
      sleep: (ms: number) => Promise.resolve(void sleeps.push(Math.round(ms))),
    },
  };
}

const CAST = [
  JSON.stringify({ version: 2, width: 80, height: 24 }),
  JSON.stringify([0.5, "o", "€ hello\r\n"]),
  JSON.stringify([1.5, "r", "100x30"]),
  JSON.stringify([1.5, "e", "warning\n"]),
  JSON.stringify([11.5, "m", "cmdop: 10 bytes of output are missing here"]),
  JSON.stringify([12, "x", "0"]),
].join("\n") + "\n";

describe("playCast()", () => {
  it("plays each event at its time, stdout and stderr apart, markers as notes", async () => {
    const p = player();
    const result = await playCast(chunked(CAST), { speed: 1 }, p.io);
    assert.deepEqual(p.out, ["€ hello\r\n"]);
    assert.deepEqual(p.err, ["warning\n", "\r\n[cmdop: 10 bytes of output are missing here]\r\n"]);
    assert.deepEqual(p.sleeps, [500, 1000, 10_000, 500]);
    assert.equal(result.exitStatus, "0");
  });

  it("divides the pauses by --speed and caps them at --idle-limit", async () => {
    const p = player();
    await playCast(chunked(CAST), { speed: 2, idleLimitS: 2 }, p.io);
    assert.deepEqual(p.sleeps, [250, 500, 1000, 250]);
  });

  it("refuses a recording that is not asciicast v2, naming what is wrong", async () => {
    await assert.rejects(
      playCast(chunked('{"version":1}\n'), { speed: 1 }, player().io),
      (e: unknown) => e instanceof MalformedCastError && /not asciicast version 2/.test(e.message),
    );
    await assert.rejects(
      playCast(chunked(CAST + "[1, 2]\n"), { speed: 1 }, player().io),
      (e: unknown) => e instanceof MalformedCastError && /not \[time, code, data\]/.test(e.message),
    );
    await assert.rejects(
      playCast(chunked(""), { speed: 1 }, player().io),
      (e: unknown) => e instanceof MalformedCastError && /empty/.test(e.message),
    );
  });
});
