import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CliError } from "../../errors.ts";
import { isLoopback, parseForwardSpec } from "./forward_spec.ts";

describe("parseForwardSpec", () => {
  it("reads localport:host:port, on 127.0.0.1 unless told", () => {
    assert.deepEqual(parseForwardSpec("5432:127.0.0.1:5432"), {
      bind: "127.0.0.1",
      localPort: 5432,
      remoteHost: "127.0.0.1",
      remotePort: 5432,
    });
    assert.deepEqual(parseForwardSpec("0:db.internal:80", "0.0.0.0"), {
      bind: "0.0.0.0",
      localPort: 0,
      remoteHost: "db.internal",
      remotePort: 80,
    });
  });

  it("takes a bind address in front, and IPv6 addresses in brackets", () => {
    assert.deepEqual(parseForwardSpec("[::1]:8080:[fe80::1]:443"), {
      bind: "::1",
      localPort: 8080,
      remoteHost: "fe80::1",
      remotePort: 443,
    });
    assert.equal(parseForwardSpec("192.168.1.5:8080:web:80").bind, "192.168.1.5");
  });

  it("refuses what is not a spec, naming it", () => {
    for (
      const bad of [
        "8080",
        "8080:web",
        "a:b:c:d:e",
        "x:web:80",
        "8080:web:0",
        "8080:web:65536",
        "70000:web:80",
        "8080::80",
        "8080:[::1:80",
        "8080:a/b:80",
        "-1:web:80",
      ]
    ) {
      assert.throws(() => parseForwardSpec(bad), (error: unknown) => {
        assert.ok(error instanceof CliError, bad);
        assert.match(error.message, new RegExp(bad.replace(/[[\]]/g, "\\$&")));
        return true;
      });
    }
  });

  it("refuses a bind address in the spec and --bind together", () => {
    assert.throws(() => parseForwardSpec("0.0.0.0:80:web:80", "127.0.0.1"), /--bind/);
  });

  it("knows loopback addresses", () => {
    assert.ok(isLoopback("127.0.0.1") && isLoopback("127.1.2.3") && isLoopback("::1"));
    assert.ok(!isLoopback("0.0.0.0") && !isLoopback("::") && !isLoopback("192.168.1.5"));
  });
});
