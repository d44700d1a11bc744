import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { clientAddress, MAX_FORWARDED_HOPS, parseTrustedProxies } from "./client_address.ts";

describe("clientAddress()", () => {
  const proxy = parseTrustedProxies(["127.0.0.1", "10.0.0.0/8", "fd00::/8"]);

  it("is the TCP peer when no proxy is trusted, or the peer is not one", () => {
    assert.equal(clientAddress("203.0.113.5", "6.6.6.6", undefined), "203.0.113.5");
    assert.equal(clientAddress("203.0.113.5", "6.6.6.6", proxy), "203.0.113.5");
    assert.equal(clientAddress("127.0.0.1", null, proxy), "127.0.0.1");
    assert.equal(clientAddress("127.0.0.1", "", proxy), "127.0.0.1");
  });

  it("is the right-most entry a trusted proxy appended, not what the client wrote", () => {
    assert.equal(clientAddress("127.0.0.1", "198.51.100.4", proxy), "198.51.100.4");
    assert.equal(clientAddress("127.0.0.1", "6.6.6.6, 198.51.100.4", proxy), "198.51.100.4");
    // Two trusted hops (an edge proxy at 10.1.1.1, then the local one).
    assert.equal(
      clientAddress("127.0.0.1", "6.6.6.6,198.51.100.4,10.1.1.1", proxy),
      "198.51.100.4",
    );
    assert.equal(
      clientAddress("::1", "198.51.100.4", parseTrustedProxies(["::1"])),
      "198.51.100.4",
    );
    assert.equal(clientAddress("fd00::2", "2001:db8::7", proxy), "2001:db8::7");
  });

  it("takes ports and brackets off, and stops at a malformed entry", () => {
    assert.equal(clientAddress("127.0.0.1", "198.51.100.4:51234", proxy), "198.51.100.4");
    assert.equal(clientAddress("127.0.0.1", "[2001:db8::7]:443", proxy), "2001:db8::7");
    assert.equal(clientAddress("127.0.0.1", "unknown", proxy), "127.0.0.1");
    assert.equal(clientAddress("127.0.0.1", "6.6.6.6, garbage, 10.1.1.1", proxy), "10.1.1.1");
    assert.equal(clientAddress("127.0.0.1", "10.2.2.2, 10.1.1.1", proxy), "10.2.2.2");
  });

  it("reads no more than the last 16 hops of a long chain", () => {
    const chain = ["6.6.6.6", ...Array(MAX_FORWARDED_HOPS).fill("10.9.9.9")].join(",");
    assert.equal(clientAddress("127.0.0.1", chain, proxy), "10.9.9.9");
    assert.equal(
      clientAddress("127.0.0.1", "x,".repeat(100_000) + "198.51.100.4", proxy),
      "198.51.100.4",
    );
  });
});

describe("parseTrustedProxies()", () => {
  it("takes addresses and ranges, repeated or comma-separated", () => {
    const trusted = parseTrustedProxies(["127.0.0.1", " 10.0.0.0/8 ,::1", ""]);
    assert.deepEqual(trusted.specs, ["127.0.0.1", "10.0.0.0/8", "::1"]);
    assert.ok(trusted.has("10.200.0.1") && trusted.has("::1") && trusted.has("127.0.0.1"));
    assert.ok(!trusted.has("127.0.0.2") && !trusted.has("11.0.0.1") && !trusted.has("nonsense"));
  });

  it("refuses what is not an address or a range, naming it", () => {
    for (
      const bad of ["localhost", "10.0.0.0/33", "10.0.0.0/x", "::1/129", "1.2.3.4/8/8", "10.0.0.0/"]
    ) {
      assert.throws(
        () => parseTrustedProxies([bad]),
        new RegExp(
          `^Error: trusted proxy "${
            bad.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")
          }" is not an IP address or CIDR range`,
        ),
      );
    }
  });
});
