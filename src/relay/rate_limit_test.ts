import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { FailureLimiter } from "./rate_limit.ts";

describe("FailureLimiter", () => {
  it("allows a few failures, then locks out for growing periods", () => {
    let now = 0;
    const limiter = new FailureLimiter({ now: () => now, freeFailures: 2, baseDelayMs: 1000 });
    assert.equal(limiter.fail("k"), 0);
    assert.equal(limiter.fail("k"), 0);
    assert.equal(limiter.fail("k"), 1000);
    assert.equal(limiter.retryAfterMs("k"), 1000);
    now = 1000;
    assert.equal(limiter.retryAfterMs("k"), 0);
    assert.equal(limiter.fail("k"), 2000);
    assert.equal(limiter.fail("k"), 4000);
    assert.equal(limiter.retryAfterMs("other"), 0);
  });

  it("forgets a key's failures after a success", () => {
    const limiter = new FailureLimiter({ now: () => 0, freeFailures: 0 });
    limiter.fail("k");
    limiter.succeed("k");
    assert.equal(limiter.retryAfterMs("k"), 0);
  });
});
