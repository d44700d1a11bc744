import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { joinPieces, MAX_MESSAGE_BYTES, splitEnvelopes } from "./envelopes.ts";

function envelope(flags: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + data.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, data.length);
  out.set(data, 5);
  return out;
}

async function* from(pieces: Uint8Array[]) {
  for (const p of pieces) yield p;
}

describe("splitEnvelopes()", () => {
  it("splits envelopes however the stream is cut", async () => {
    const stream = new Uint8Array([
      ...envelope(0, new Uint8Array([1, 2, 3])),
      ...envelope(0, new Uint8Array([])),
      ...envelope(2, new Uint8Array([9])),
    ]);
    const want = [{ flags: 0, data: [1, 2, 3] }, { flags: 0, data: [] }, { flags: 2, data: [9] }];
    for (let cut = 0; cut <= stream.length; cut++) {
      const got = [];
      for await (const e of splitEnvelopes(from([stream.subarray(0, cut), stream.subarray(cut)]))) {
        got.push({ flags: e.flags, data: [...e.data] });
      }
      assert.deepEqual(got, want, `cut at ${cut}`);
    }
  });

  it("refuses a length past the limit as soon as it is read, without waiting for the bytes", async () => {
    const head = new Uint8Array(5);
    new DataView(head.buffer).setUint32(1, 0xffffffff);
    let pulled = 0;
    async function* endless() {
      yield head;
      // A peer that then trickles bytes forever: the split must not wait for 4 GiB of them.
      for (;;) {
        pulled++;
        yield new Uint8Array(1024);
      }
    }
    await assert.rejects(
      (async () => {
        for await (const _ of splitEnvelopes(endless())) { /* nothing arrives */ }
      })(),
      /protocol error: the relay sent a message of 4294967295 bytes, more than the 67108864/,
    );
    assert.equal(pulled, 0);
    await assert.rejects(
      (async () => {
        for await (const _ of splitEnvelopes(from([envelope(0, new Uint8Array(11))]), 10)) { /* */ }
      })(),
      /message of 11 bytes, more than the 10/,
    );
    assert.equal(MAX_MESSAGE_BYTES, 64 * 1024 * 1024);
  });

  it("says so when the stream ends inside an envelope", async () => {
    await assert.rejects(
      (async () => {
        for await (
          const _ of splitEnvelopes(from([envelope(0, new Uint8Array(8)).subarray(0, 7)]))
        ) { /* */ }
      })(),
      /incomplete envelope/,
    );
  });
});

/**
 * A stream that hands out `stream` in pieces of `piece` bytes, and can also be read into a
 * caller's buffer (as the CLI's chunked response body), counting how it was read.
 */
function readableInto(stream: Uint8Array, piece: number) {
  let at = 0;
  const reads = { pieces: 0, into: 0 };
  const pieces = (async function* () {
    while (at < stream.length) {
      const part = stream.subarray(at, at + piece);
      at += part.length;
      reads.pieces++;
      yield part;
    }
  })();
  return {
    reads,
    body: Object.assign(pieces, {
      readInto: (dest: Uint8Array) => {
        const part = stream.subarray(at, at + Math.min(dest.length, piece));
        dest.set(part);
        at += part.length;
        reads.into++;
        return Promise.resolve(part.length);
      },
    }),
  };
}

describe("splitEnvelopes() on a stream it can read into", () => {
  it("reads the rest of a large message straight into its own buffer, small ones as pieces", async () => {
    const big = new Uint8Array(300_000).map((_, i) => i % 253);
    const stream = new Uint8Array([
      ...envelope(0, new Uint8Array([1])),
      ...envelope(0, big),
      ...envelope(0, new Uint8Array([2, 3])),
      ...envelope(2, new Uint8Array([])),
    ]);
    const { body, reads } = readableInto(stream, 16 * 1024);
    const got = [];
    for await (const e of splitEnvelopes(body)) got.push({ flags: e.flags, data: [...e.data] });
    assert.deepEqual(got, [
      { flags: 0, data: [1] },
      { flags: 0, data: [...big] },
      { flags: 0, data: [2, 3] },
      { flags: 2, data: [] },
    ]);
    // The first piece brought the small message and the start of the large one; the rest of
    // the large one came by readInto (300,005 - 16,384 + 6 bytes in 16 KiB reads), then pieces.
    assert.equal(reads.into, Math.ceil((300_005 - (16 * 1024 - 6)) / (16 * 1024)));
    assert.equal(reads.pieces, 2);
  });

  it("says so when the stream ends inside a large message read into its buffer", async () => {
    const whole = envelope(0, new Uint8Array(100_000));
    const { body } = readableInto(whole.subarray(0, 70_000), 16 * 1024);
    await assert.rejects(async () => {
      for await (const _ of splitEnvelopes(body)) { /* read on */ }
    }, /incomplete envelope/);
  });
});

describe("joinPieces()", () => {
  it("joins a body, and refuses one past the limit as it grows", async () => {
    assert.deepEqual([...await joinPieces(from([new Uint8Array([1]), new Uint8Array([2, 3])]))], [
      1,
      2,
      3,
    ]);
    let pulled = 0;
    async function* endless() {
      for (;;) {
        pulled++;
        yield new Uint8Array(1024);
      }
    }
    await assert.rejects(joinPieces(endless(), 4096), /message of 5120 bytes, more than the 4096/);
    assert.equal(pulled, 5);
  });
});
