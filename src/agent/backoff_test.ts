import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Backoff } from "./backoff.ts";

describe("Backoff", () => {
  it("doubles its ceiling per attempt up to the cap, with full jitter", () => {
    const backoff = new Backoff({ baseMs: 100, capMs: 1000, random: () => 1 });
    assert.deepEqual([1, 2, 3, 4, 5, 6].map(() => backoff.next()), [
      100,
      200,
      400,
      800,
      1000,
      1000,
    ]);
  });

  it("starts over after reset()", () => {
    const backoff = new Backoff({ baseMs: 100, capMs: 1000, random: () => 0.5 });
    backoff.next();
    backoff.next();
    backoff.reset();
    assert.equal(backoff.next(), 50);
  });
});
