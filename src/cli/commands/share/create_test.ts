/** Tests for parseTtlHours: share links live whole hours, rounded up, or forever. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseTtlHours } from "./create.ts";

describe("parseTtlHours()", () => {
  it("takes a bare number as hours", () => {
    assert.equal(parseTtlHours("4"), 4);
    assert.equal(parseTtlHours("4h"), 4);
  });

  it("rounds any part of an hour up", () => {
    assert.equal(parseTtlHours("30m"), 1);
    assert.equal(parseTtlHours("61m"), 2);
    assert.equal(parseTtlHours("1s"), 1);
    assert.equal(parseTtlHours("1.5"), 2);
    assert.equal(parseTtlHours("2d"), 48);
  });

  it("reads 0 as never expires", () => {
    assert.equal(parseTtlHours("0"), 0);
  });

  it("refuses what is not a duration, and absurd lengths", () => {
    assert.throws(() => parseTtlHours("-1h"), /--ttl "-1h" is not a duration/);
    assert.throws(() => parseTtlHours("tomorrow"), /is not a duration/);
    assert.throws(() => parseTtlHours("100000h"), /is longer than 87600h/);
  });
});
