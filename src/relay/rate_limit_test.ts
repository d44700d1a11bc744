/** Tests of the lock-out rule and the per-source request rate limit. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { lockoutMs, RequestRateLimiter } from "./rate_limit.ts";

describe("lockoutMs()", () => {
  it("is free for the first failures, then doubles up to the cap", () => {
    const rule = { freeFailures: 2, baseDelayMs: 1000, maxDelayMs: 5000 };
    assert.deepEqual([1, 2, 3, 4, 5, 6, 100].map((n) => lockoutMs(rule, n)), [
      0,
      0,
      1000,
      2000,
      4000,
      5000,
      5000,
    ]);
  });
});

describe("RequestRateLimiter", () => {
  it("allows `limit` requests per window and key, then says how long to wait", () => {
    let now = 0;
    const limiter = new RequestRateLimiter({ now: () => now, limit: 2, windowMs: 1000 });
    assert.equal(limiter.retryAfterMs("a"), 0);
    now = 100;
    assert.equal(limiter.retryAfterMs("a"), 0);
    assert.equal(limiter.retryAfterMs("a"), 900);
    assert.equal(limiter.retryAfterMs("b"), 0);
    now = 1001;
    assert.equal(limiter.retryAfterMs("a"), 0);
  });

  it("refuses new keys rather than growing past maxKeys", () => {
    const limiter = new RequestRateLimiter({ now: () => 0, limit: 1, windowMs: 1000, maxKeys: 2 });
    assert.equal(limiter.retryAfterMs("a"), 0);
    assert.equal(limiter.retryAfterMs("b"), 0);
    assert.equal(limiter.retryAfterMs("c"), 1000);
  });
});
