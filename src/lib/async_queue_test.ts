import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { AsyncQueue } from "./async_queue.ts";

describe("AsyncQueue", () => {
  it("delivers pushed items in order, then ends after close()", async () => {
    const q = new AsyncQueue<number>();
    q.push(1);
    q.push(2);
    setTimeout(() => {
      q.push(3);
      q.close();
    }, 5);
    const got: number[] = [];
    for await (const n of q) got.push(n);
    assert.deepEqual(got, [1, 2, 3]);
  });

  it("refuses pushes after close()", () => {
    const q = new AsyncQueue<number>();
    q.close();
    assert.equal(q.push(1), false);
  });

  it("fails the consumer when a producer overflows the limit", async () => {
    const q = new AsyncQueue<number>(2);
    q.push(1);
    q.push(2);
    assert.equal(q.push(3), false);
    await assert.rejects(q.next(), /queue overflow/);
  });

  it("wakes a waiting consumer with the failure", async () => {
    const q = new AsyncQueue<number>();
    const pending = q.next();
    q.fail(new Error("boom"));
    await assert.rejects(pending, /boom/);
  });
});
