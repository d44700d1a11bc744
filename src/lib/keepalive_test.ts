import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { answerSilenceMs, Keepalive, keepaliveFromEnv, pingSilenceMs } from "./keepalive.ts";

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("Keepalive", () => {
  it("pings at its interval while the peer answers, and never reports silence", async () => {
    const pings: number[] = [];
    let silent = false;
    const keepalive: Keepalive = new Keepalive({
      intervalMs: 40,
      silenceMs: 120,
      ping: () => {
        pings.push(Date.now());
        keepalive.heard();
      },
      silent: () => silent = true,
    });
    await wait(400);
    keepalive.stop();
    assert.equal(silent, false);
    assert.ok(pings.length >= 4, `${pings.length} pings in 400 ms at a 40 ms interval`);
  });

  it("reports a peer that stops answering once, after the silence limit", async () => {
    const reports: number[] = [];
    const started = Date.now();
    new Keepalive({
      intervalMs: 30,
      silenceMs: 100,
      ping: () => {},
      silent: (silentFor) => reports.push(silentFor),
    });
    await wait(400);
    assert.equal(reports.length, 1);
    assert.ok(reports[0] >= 100, `reported after ${reports[0]} ms`);
    assert.ok(Date.now() - started >= 100);
  });

  it("counts any frame heard as life, even with no pings of its own", async () => {
    let silent = false;
    const keepalive = new Keepalive({
      intervalMs: 0,
      silenceMs: 100,
      silent: () => silent = true,
    });
    for (let i = 0; i < 8; i++) {
      await wait(30);
      keepalive.heard();
    }
    assert.equal(silent, false);
    await wait(250);
    assert.equal(silent, true);
  });

  it("stays quiet once stopped", async () => {
    let calls = 0;
    const keepalive = new Keepalive({
      intervalMs: 20,
      silenceMs: 50,
      ping: () => calls++,
      silent: () => calls++,
    });
    keepalive.stop();
    await wait(150);
    assert.equal(calls, 0);
  });
});

describe("keepaliveFromEnv()", () => {
  it("reads seconds, defaults to 10 s and names a bad value", () => {
    assert.equal(keepaliveFromEnv(undefined), 10_000);
    assert.equal(keepaliveFromEnv("2.5"), 2_500);
    assert.equal(keepaliveFromEnv("2s"), 2_000);
    assert.equal(keepaliveFromEnv("500ms"), 500);
    assert.throws(() => keepaliveFromEnv("2m"), /CMDOP_KEEPALIVE "2m" is not a keepalive/);
    assert.throws(() => keepaliveFromEnv("soon"), /CMDOP_KEEPALIVE "soon" is not a keepalive/);
    assert.throws(() => keepaliveFromEnv("0"), /from 0\.2 to 600/);
  });

  it("gives the pinging side a shorter patience than the pinged side", () => {
    assert.equal(answerSilenceMs(10_000), 15_000);
    assert.equal(pingSilenceMs(10_000), 25_000);
  });
});
