import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { LinePrefixer } from "./line_prefixer.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array) => new TextDecoder().decode(data);

describe("LinePrefixer", () => {
  it("gives out whole lines only, each prefixed, holding back a partial one", () => {
    const lines = new LinePrefixer("web-1 | ");
    assert.equal(text(lines.push(bytes("a\nb"))), "web-1 | a\n");
    assert.equal(text(lines.push(bytes("c"))), "");
    assert.equal(text(lines.push(bytes("d\ne\nf"))), "web-1 | bcd\nweb-1 | e\n");
    assert.equal(text(lines.flush()), "web-1 | f\n");
    assert.equal(text(lines.flush()), "");
  });

  it("keeps empty lines and bytes that are not UTF-8", () => {
    const lines = new LinePrefixer("x | ");
    assert.equal(text(lines.push(bytes("\n\n"))), "x | \nx | \n");
    const raw = lines.push(new Uint8Array([0xff, 0x0a]));
    assert.deepEqual([...raw], [...bytes("x | "), 0xff, 0x0a]);
  });

  it("does not keep a buffer the caller reuses", () => {
    const lines = new LinePrefixer("m | ");
    const buffer = bytes("ab");
    lines.push(buffer);
    buffer.set(bytes("zz"));
    assert.equal(text(lines.push(bytes("\n"))), "m | ab\n");
  });
});
