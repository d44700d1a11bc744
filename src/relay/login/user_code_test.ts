/** Tests for device-flow user codes: shape, alphabet, and how typed codes are read. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { formatUserCode, newUserCode, normaliseUserCode } from "./user_code.ts";

describe("user codes", () => {
  it("newUserCode() makes 8 consonants, different each time", () => {
    const codes = new Set(Array.from({ length: 200 }, newUserCode));
    assert.equal(codes.size, 200);
    for (const code of codes) assert.match(code, /^[BCDFGHJKLMNPQRSTVWXZ]{8}$/);
  });

  it("formatUserCode() shows two groups of four", () => {
    assert.equal(formatUserCode("WDJBMJHT"), "WDJB-MJHT");
  });

  it("normaliseUserCode() accepts any case, dashes and spaces, and refuses the rest", () => {
    assert.equal(normaliseUserCode(" wdjb-mjht "), "WDJBMJHT");
    assert.equal(normaliseUserCode("WDJB MJHT"), "WDJBMJHT");
    assert.equal(normaliseUserCode("WDJB-MJH"), undefined);
    assert.equal(normaliseUserCode("WDJB-MJHA"), undefined);
    assert.equal(normaliseUserCode("<script>"), undefined);
  });
});
