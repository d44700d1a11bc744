/** Tests for ByteSource: its reads grow while the socket is full and shrink once it goes quiet. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ByteSource } from "./http1_wire.ts";

/** A connection whose reads return `sizes[i]` bytes (capped by the buffer), recording each buffer's size. */
function fakeConn(sizes: number[]) {
  const asked: number[] = [];
  let i = 0;
  const conn = {
    read(into: Uint8Array): Promise<number | null> {
      asked.push(into.length);
      if (i >= sizes.length) return Promise.resolve(null);
      return Promise.resolve(Math.min(into.length, sizes[i++]));
    },
    close() {},
  } as unknown as Deno.Conn;
  return { conn, asked };
}

describe("ByteSource", () => {
  it("reads bigger while reads come back full, and small again once they come back small", async () => {
    const bulk = Array(12).fill(1 << 20);
    const keystrokes = Array(12).fill(8);
    const { conn, asked } = fakeConn([...bulk, ...keystrokes]);
    const source = new ByteSource(conn);
    while (await source.readUpTo(Infinity)) { /* drain */ }
    assert.equal(Math.max(...asked), 1 << 20, "grew to 1 MiB while full");
    const last = asked.slice(-4);
    assert.ok(
      last.every((size) => size <= 16 * 1024),
      `reads after the output went quiet: ${asked.slice(12).join(", ")}`,
    );
  });
});
