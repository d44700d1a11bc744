import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  CreditCounter,
  CreditGate,
  DEFAULT_WINDOW_BYTES,
  MAX_WINDOW_BYTES,
  sessionWindow,
} from "./credit.ts";

describe("CreditGate", () => {
  it("lets a sender through while credit remains and holds it when the window is used", async () => {
    const gate = new CreditGate(10);
    assert.equal(await gate.take(8), true);
    assert.equal(await gate.take(8), true); // the last chunk may overshoot
    let released = false;
    const waiting = gate.take(1).then((ok) => (released = ok));
    // A macrotask later every microtask has run: a take that could go through has done so.
    await new Promise((r) => setTimeout(r, 0));
    assert.equal(released, false);
    gate.grant(16);
    await waiting;
    assert.equal(released, true);
  });

  it("never holds more credit than its ceiling, however much a receiver grants", () => {
    const gate = new CreditGate(4 * 1024 ** 3, 100);
    assert.equal(gate.available, 100);
    assert.equal(gate.tryTake(100), true);
    gate.grant(2 ** 40);
    gate.grant(2 ** 40);
    assert.equal(gate.available, 100);
    gate.grant(-50);
    gate.grant(NaN);
    assert.equal(gate.available, 100);
  });

  it("sessionWindow() keeps a sane request and clamps a hostile one", () => {
    assert.equal(sessionWindow(0), DEFAULT_WINDOW_BYTES);
    assert.equal(sessionWindow(65536), 65536);
    assert.equal(sessionWindow(4 * 1024 ** 3), MAX_WINDOW_BYTES);
  });

  it("releases waiting senders with false when closed", async () => {
    const gate = new CreditGate(0);
    const waiting = gate.take(1);
    gate.close();
    assert.equal(await waiting, false);
  });
});

describe("CreditCounter", () => {
  it("batches consumed bytes into credits of at least the batch size", () => {
    const counter = new CreditCounter(100);
    assert.equal(counter.consumed(60), 0);
    assert.equal(counter.consumed(60), 120);
    assert.equal(counter.consumed(10), 0);
  });
});
