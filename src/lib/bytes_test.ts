import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { concatBytes } from "./bytes.ts";

describe("concatBytes()", () => {
  it("joins chunks in order, empty ones included", () => {
    const joined = concatBytes([Uint8Array.of(1, 2), new Uint8Array(0), Uint8Array.of(3)]);
    assert.deepEqual([...joined], [1, 2, 3]);
    assert.equal(concatBytes([]).length, 0);
  });
});
