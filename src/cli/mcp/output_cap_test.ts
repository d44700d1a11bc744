import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CappedOutput, parseByteSize } from "./output_cap.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

describe("CappedOutput", () => {
  it("keeps everything within the limit", () => {
    const out = new CappedOutput(10);
    out.push(bytes("hello "));
    out.push(bytes("you!"));
    assert.equal(out.text(), "hello you!");
    assert.equal(out.total, 10);
    assert.equal(out.truncated, false);
  });

  it("keeps the start and the end past the limit, and says how much was cut", () => {
    const out = new CappedOutput(8);
    for (const chunk of ["abc", "defgh", "ijklmnop", "qrs", "tuvwxyz"]) out.push(bytes(chunk));
    assert.equal(out.total, 26);
    assert.equal(out.truncated, true);
    assert.equal(
      out.text(),
      "abcd\n[cmdop mcp: 18 bytes cut here; the output was 26 bytes, the first 4 and the last 4 " +
        "are kept]\nwxyz",
    );
  });

  it("cuts one big chunk the same way", () => {
    const out = new CappedOutput(4);
    out.push(bytes("0123456789"));
    assert.match(out.text(), /^01\n\[cmdop mcp: 6 bytes cut here; .*\]\n89$/);
  });

  it("never shows half a character at either cut", () => {
    const out = new CappedOutput(6);
    out.push(bytes("ééééééé")); // 14 bytes, 2 each: the cuts fall inside characters
    const text = out.text();
    assert.ok(!text.includes("\ufffd"), text);
    assert.match(
      text,
      /^é\n\[cmdop mcp: 10 bytes cut here; .* the first 2 and the last 2 .*\]\né$/,
    );
  });
});

describe("parseByteSize()", () => {
  it("reads bytes, KiB and MiB", () => {
    assert.equal(parseByteSize("512"), 512);
    assert.equal(parseByteSize("64k"), 65536);
    assert.equal(parseByteSize("1M"), 1048576);
    assert.equal(parseByteSize("2KiB"), 2048);
  });

  it("refuses anything else", () => {
    assert.equal(parseByteSize("lots"), undefined);
    assert.equal(parseByteSize("-1"), undefined);
    assert.equal(parseByteSize("1.5k"), undefined);
  });
});
