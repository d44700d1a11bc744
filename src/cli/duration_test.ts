import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseDuration } from "./duration.ts";
import { parseListen } from "./commands/relay/serve.ts";

describe("parseDuration()", () => {
  it("reads bare numbers in the default unit and suffixed values", () => {
    assert.equal(parseDuration("30", "--timeout", "s"), 30_000);
    assert.equal(parseDuration("90s", "--timeout", "s"), 90_000);
    assert.equal(parseDuration("2m", "--timeout", "s"), 120_000);
    assert.equal(parseDuration("4h", "--ttl", "h"), 4 * 3_600_000);
    assert.equal(parseDuration("0", "--timeout", "s"), 0);
  });

  it("names the flag and the value it cannot read", () => {
    assert.throws(() => parseDuration("-5", "--timeout", "s"), /--timeout "-5" is not a duration/);
    assert.throws(() => parseDuration("soon", "--ttl", "h"), /--ttl "soon"/);
  });
});

describe("parseListen()", () => {
  it("reads IPv4, IPv6 and bare-port forms", () => {
    assert.deepEqual(parseListen("127.0.0.1:4780"), { hostname: "127.0.0.1", port: 4780 });
    assert.deepEqual(parseListen("[::1]:80"), { hostname: "::1", port: 80 });
    assert.deepEqual(parseListen(":9000"), { hostname: "0.0.0.0", port: 9000 });
  });

  it("rejects anything else", () => {
    assert.throws(() => parseListen("localhost"), /is not HOST:PORT/);
    assert.throws(() => parseListen("h:70000"), /is not HOST:PORT/);
  });
});
