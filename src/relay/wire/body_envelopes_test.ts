import { describe, it } from "../../../tests/_suite.ts";
import assert from "node:assert/strict";
import { bodyEnvelopes } from "./body_envelopes.ts";

function envelope(flags: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + data.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, data.length);
  out.set(data, 5);
  return out;
}

/** A byte stream handing out `pieces` as they are cut, the way a request body arrives. */
function body(cut: Uint8Array[], onPull?: () => void): ReadableStream<Uint8Array> {
  const pieces = cut.filter((piece) => piece.length > 0);
  let i = 0;
  let offset = 0;
  return new ReadableStream({
    type: "bytes",
    pull(controller) {
      onPull?.();
      if (i >= pieces.length) {
        controller.close();
        controller.byobRequest?.respond(0);
        return;
      }
      const piece = pieces[i];
      const view = controller.byobRequest!.view! as Uint8Array;
      const n = Math.min(view.length, piece.length - offset);
      view.set(piece.subarray(offset, offset + n));
      offset += n;
      if (offset === piece.length) {
        i++;
        offset = 0;
      }
      controller.byobRequest!.respond(n);
    },
  });
}

async function collect(stream: ReadableStream<Uint8Array>, max = 1 << 20) {
  const got = [];
  const { messages } = bodyEnvelopes(stream, max, (n) => new Error(`too large: ${n}`));
  for await (const { flags, data } of messages) {
    // Each message keeps its header right before it, in its own buffer.
    const head = new Uint8Array(data.buffer, data.byteOffset - 5, 5);
    assert.equal(new DataView(head.buffer, head.byteOffset).getUint32(1), data.length);
    got.push({ flags, data: [...data] });
  }
  return got;
}

const big = new Uint8Array(200_000).map((_, i) => i % 249);
const stream = new Uint8Array([
  ...envelope(0, new Uint8Array([1, 2, 3])),
  ...envelope(0, new Uint8Array([])),
  ...envelope(0, big),
  ...envelope(1, new Uint8Array([9])),
]);
const want = [
  { flags: 0, data: [1, 2, 3] },
  { flags: 0, data: [] },
  { flags: 0, data: [...big] },
  { flags: 1, data: [9] },
];

describe("bodyEnvelopes()", () => {
  it("splits envelopes however the body is cut, small and large", async () => {
    for (const cut of [0, 1, 4, 5, 7, 8, 9, 13, 100, 70_000, 200_013, stream.length - 1]) {
      assert.deepEqual(
        await collect(body([stream.subarray(0, cut), stream.subarray(cut)])),
        want,
        `cut at ${cut}`,
      );
    }
    // A byte at a time.
    const bytes = [...stream.subarray(0, 13)].map((b) => new Uint8Array([b]));
    assert.deepEqual(await collect(body(bytes)), want.slice(0, 2));
  });

  it("keeps messages handed out intact while it reads on", async () => {
    const { messages } = bodyEnvelopes(body([stream]), 1 << 20, () => new Error("too large"));
    const kept = [];
    for await (const { data } of messages) kept.push(data);
    assert.deepEqual(kept.map((d) => [...d]), want.map((w) => w.data));
  });

  it("refuses a length past the limit as soon as it is read", async () => {
    const head = new Uint8Array(5);
    new DataView(head.buffer).setUint32(1, 0xffffffff);
    let pulls = 0;
    await assert.rejects(
      collect(body([head, new Uint8Array(1 << 16), new Uint8Array(1 << 16)], () => pulls++)),
      /too large: 4294967295/,
    );
    assert.equal(pulls, 1);
    await assert.rejects(collect(body([envelope(0, new Uint8Array(11))]), 10), /too large: 11/);
  });

  it("says so when the body ends inside an envelope, header or message, small or large", async () => {
    for (const cut of [3, 6, 70_000]) {
      await assert.rejects(
        collect(body([stream.subarray(0, 13), envelope(0, big).subarray(0, cut)])),
        /incomplete envelope/,
        `cut at ${cut}`,
      );
    }
  });

  it("reads a body that is not a byte stream the same way", async () => {
    for (const cut of [0, 7, 13, 70_000]) {
      const pieces = [stream.subarray(0, cut), stream.subarray(cut)];
      assert.deepEqual(await collect(ReadableStream.from(pieces)), want, `cut at ${cut}`);
    }
  });

  it("reads nothing from an empty body", async () => {
    assert.deepEqual(await collect(body([])), []);
  });

  it("copies a keystroke-sized message out instead of keeping a 64 KiB read per message", async () => {
    const keys = [1, 2, 3].map((k) => envelope(0, new Uint8Array([0x12, 1, k])));
    const { messages } = bodyEnvelopes(body(keys), 1 << 20, () => new Error("too large"));
    for await (const { data } of messages) {
      // Its buffer holds its header and itself: the read buffer stays free for the next read.
      assert.equal(data.buffer.byteLength, 5 + data.length);
      assert.equal(data.byteOffset, 5);
    }
  });

  it("keeps small and mid-sized messages intact when one read brings both", async () => {
    const mid = new Uint8Array(3000).map((_, i) => i % 251);
    const mixed = [
      envelope(0, new Uint8Array([7])),
      envelope(0, mid),
      envelope(0, new Uint8Array([8, 9])),
      envelope(0, mid),
    ];
    const all = new Uint8Array(mixed.reduce((n, e) => n + e.length, 0));
    mixed.reduce((at, e) => (all.set(e, at), at + e.length), 0);
    for (const cut of [1, 6, 7, 3000, 3010, all.length - 1]) {
      const { messages } = bodyEnvelopes(
        body([all.subarray(0, cut), all.subarray(cut)]),
        1 << 20,
        () => new Error("too large"),
      );
      const kept = [];
      for await (const { data } of messages) kept.push(data);
      assert.deepEqual(kept.map((d) => [...d]), [[7], [...mid], [8, 9], [...mid]], `cut at ${cut}`);
    }
  });
});
