import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ReplayBuffer } from "./replay_buffer.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (chunks: Uint8Array[]) => chunks.map((c) => new TextDecoder().decode(c)).join("");

describe("ReplayBuffer", () => {
  it("gives the bytes from any kept offset, cutting into a chunk, and forgets acknowledged ones", async () => {
    const buffer = new ReplayBuffer(100);
    await buffer.append(bytes("hello "));
    await buffer.append(bytes("world"));
    assert.equal(text(buffer.from(3)), "lo world");
    assert.equal(text(buffer.from(11)), "");
    buffer.ackTo(8);
    assert.equal(buffer.acked, 8);
    assert.equal(text(buffer.from(8)), "rld");
    assert.equal(buffer.holds(7), false);
    assert.throws(() => buffer.from(7), RangeError);
    assert.equal(buffer.holds(12), false, "nothing past the end");
  });

  it("gives the same bytes and tags as appended from every kept offset, after a partial ack", async () => {
    const buffer = new ReplayBuffer(1 << 20);
    const all: number[] = [];
    const tags: number[] = [];
    for (let i = 0; i < 60; i++) {
      const chunk = new Uint8Array([0, 1, 7, 2, 30][i % 5]).fill(i);
      await buffer.append(chunk, i % 2);
      all.push(...chunk);
      tags.push(...Array(chunk.length).fill(i % 2));
    }
    buffer.ackTo(13);
    for (let offset = 13; offset <= buffer.end; offset++) {
      const kept = buffer.taggedFrom(offset);
      assert.deepEqual(kept.flatMap(({ data }) => [...data]), all.slice(offset), `at ${offset}`);
      assert.deepEqual(
        kept.flatMap(({ data, tag }) => Array(data.length).fill(tag)),
        tags.slice(offset),
      );
    }
  });

  it("makes a writer wait while a capacity of bytes is unacknowledged, and drops nothing", async () => {
    const buffer = new ReplayBuffer(10);
    await buffer.append(bytes("0123456789"));
    let appended = false;
    const waiting = buffer.append(bytes("abc")).then((ok) => appended = ok);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(appended, false, "full: the writer waits");
    buffer.ackTo(4);
    await waiting;
    assert.equal(appended, true);
    assert.equal(text(buffer.from(4)), "456789abc");
  });

  it("releases a waiting writer on close, adding nothing", async () => {
    const buffer = new ReplayBuffer(1);
    await buffer.append(bytes("x"));
    const waiting = buffer.append(bytes("y"));
    buffer.close();
    assert.equal(await waiting, false);
    assert.equal(buffer.end, 1);
  });
});
