/** Tests for the unreachable-relay message: the cause chain's reason, when it applies, and the hint. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import { toCliError } from "./error_mapping.ts";
import { isUnreachable, underlyingMessage, unreachableRelay } from "./unreachable.ts";

/** What Deno's fetch throws for a relay whose certificate no trusted CA signed. */
function fetchFailure(reason: string): TypeError {
  const inner = new Error(
    "error sending request for url (https://127.0.0.1:4780/cmdop.v1.MachineService/ListMachines): " +
      `client error (Connect): ${reason}`,
  );
  return new TypeError("fetch failed", { cause: inner });
}

/** As Connect hands it to the CLI: code unknown, the fetch error as cause. */
function connectFailure(reason: string): ConnectError {
  const cause = fetchFailure(reason);
  return new ConnectError(cause.message, Code.Unknown, undefined, undefined, cause);
}

describe("underlyingMessage()", () => {
  it("takes the deepest cause, without the HTTP stack's wrappers", () => {
    assert.equal(
      underlyingMessage(fetchFailure("invalid peer certificate: UnknownIssuer")),
      "invalid peer certificate: UnknownIssuer",
    );
  });

  it("reads a ConnectError's raw message, without its code", () => {
    assert.equal(
      underlyingMessage(new ConnectError("fetch failed", Code.Unavailable)),
      "fetch failed",
    );
  });

  it("stops on a cycle of causes", () => {
    const a = new Error("a");
    const b = new Error("b", { cause: a });
    a.cause = b;
    assert.match(underlyingMessage(a), /^[ab]$/);
  });
});

describe("isUnreachable()", () => {
  it("holds for network and TLS failures anywhere in the chain", () => {
    assert.equal(isUnreachable(connectFailure("invalid peer certificate: UnknownIssuer")), true);
    const refused = new Error("Connection refused (os error 111)");
    refused.name = "ConnectionRefused";
    assert.equal(
      isUnreachable(new ConnectError("x", Code.Unknown, undefined, undefined, refused)),
      true,
    );
  });

  it("does not hold for an error the relay answered with", () => {
    assert.equal(isUnreachable(new ConnectError("machine table is corrupt", Code.Internal)), false);
    assert.equal(isUnreachable(undefined), false);
  });
});

describe("unreachableRelay()", () => {
  it("points at CMDOP_CA_FILE for an untrusted certificate", () => {
    const error = unreachableRelay(fetchFailure("invalid peer certificate: UnknownIssuer"));
    assert.equal(error.message, "cannot reach the relay: invalid peer certificate: UnknownIssuer");
    assert.match(error.hint ?? "", /CMDOP_CA_FILE/);
  });

  it("points at the server setting for a refused connection", () => {
    const error = unreachableRelay(fetchFailure("tcp connect error: Connection refused"));
    assert.equal(error.message, "cannot reach the relay: tcp connect error: Connection refused");
    assert.match(error.hint ?? "", /CMDOP_SERVER/);
  });

  it("names the URL that was tried and where it came from", () => {
    const error = unreachableRelay(fetchFailure("tcp connect error: Connection refused"), {
      server: "http://10.0.0.5:4780",
      source: "--server flag",
    });
    assert.equal(
      error.message,
      "cannot reach the relay at http://10.0.0.5:4780 (--server flag): tcp connect error: " +
        "Connection refused",
    );
    assert.match(error.hint ?? "", /nothing is listening on 10\.0\.0\.5:4780.*--server flag/);
  });

  it("hints http:// when a TLS handshake was answered in plain HTTP", () => {
    const error = unreachableRelay(
      fetchFailure("received corrupt message of type InvalidContentType"),
      { server: "https://relay:4780" },
    );
    assert.match(error.hint ?? "", /plain HTTP.*try http:\/\/relay:4780/);
  });

  it("names a host name that does not resolve", () => {
    const error = unreachableRelay(
      fetchFailure("failed to lookup address information: Name or service not known"),
      { server: "http://nonsense", source: "CMDOP_SERVER environment variable" },
    );
    assert.match(error.hint ?? "", /"nonsense" does not resolve/);
  });
});

describe("toCliError()", () => {
  it('names what failed instead of "fetch failed"', () => {
    const error = toCliError(connectFailure("invalid peer certificate: UnknownIssuer"));
    assert.equal(error.message, "cannot reach the relay: invalid peer certificate: UnknownIssuer");
    assert.equal(error.exitCode, 1);
    assert.match(error.hint ?? "", /CMDOP_CA_FILE/);
  });

  it("names the cause of a plain fetch that failed", () => {
    const error = toCliError(fetchFailure("tcp connect error: Connection refused"));
    assert.equal(error.message, "cannot reach the relay: tcp connect error: Connection refused");
  });

  it("leaves the relay's own errors as they are", () => {
    const error = toCliError(new ConnectError("machine table is corrupt", Code.Internal));
    assert.equal(error.message, "machine table is corrupt");
  });
});
