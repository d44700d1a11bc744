/** Tests for TerminalInput: one reader, lent in turn, nothing lost or duplicated between borrowers. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { TerminalInput } from "./terminal_input.ts";

/** A stream fed by hand, like a keyboard. */
function keyboard() {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const readable = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
  return {
    readable,
    type: (text: string) => controller.enqueue(new TextEncoder().encode(text)),
    end: () => controller.close(),
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 10));
const decode = (chunks: (Uint8Array | null)[]) =>
  chunks.map((c) => c === null ? "<end>" : new TextDecoder().decode(c));

describe("TerminalInput", () => {
  it("hands keystrokes to the sink it is lent to, in order", async () => {
    const keys = keyboard();
    const input = new TerminalInput(keys.readable);
    const got: (Uint8Array | null)[] = [];
    input.lend((chunk) => void got.push(chunk));
    keys.type("a");
    keys.type("b");
    await settle();
    assert.deepEqual(decode(got), ["a", "b"]);
  });

  it("keeps keys typed while nobody listens for the next sink", async () => {
    const keys = keyboard();
    const input = new TerminalInput(keys.readable);
    const first: (Uint8Array | null)[] = [];
    const release = input.lend((chunk) => void first.push(chunk));
    keys.type("1");
    await settle();
    release();
    keys.type("2");
    keys.type("3");
    await settle();
    const second: (Uint8Array | null)[] = [];
    input.lend((chunk) => void second.push(chunk));
    await settle();
    assert.deepEqual(decode(first), ["1"]);
    assert.deepEqual(decode(second), ["2", "3"]);
  });

  it("waits for a slow sink before giving it the next chunk", async () => {
    const keys = keyboard();
    const input = new TerminalInput(keys.readable);
    const events: string[] = [];
    input.lend(async (chunk) => {
      events.push(`start ${decode([chunk])}`);
      await settle();
      events.push(`end ${decode([chunk])}`);
    });
    keys.type("x");
    keys.type("y");
    await settle();
    await settle();
    await settle();
    assert.deepEqual(events, ["start x", "end x", "start y", "end y"]);
  });

  it("tells every later sink that the input has ended", async () => {
    const keys = keyboard();
    const input = new TerminalInput(keys.readable);
    const first: (Uint8Array | null)[] = [];
    const release = input.lend((chunk) => void first.push(chunk));
    keys.type("q");
    keys.end();
    await settle();
    release();
    const second: (Uint8Array | null)[] = [];
    input.lend((chunk) => void second.push(chunk));
    await settle();
    assert.deepEqual(decode(first), ["q", "<end>"]);
    assert.deepEqual(decode(second), ["<end>"]);
  });

  it("lends to one sink at a time", () => {
    const input = new TerminalInput(keyboard().readable);
    input.lend(() => {});
    assert.throws(() => input.lend(() => {}), /already in use/);
  });
});
