/** Tests for parseShareLink: which arguments are share links, and what relay and token they hold. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CliError } from "./errors.ts";
import { parseShareLink } from "./target.ts";

describe("parseShareLink()", () => {
  it("reads the relay and the token of a link", () => {
    assert.deepEqual(parseShareLink("https://relay.example/s/cms_Ab-9_x"), {
      server: "https://relay.example",
      token: "cms_Ab-9_x",
    });
  });

  it("keeps a path the relay is served under, and ignores a trailing slash", () => {
    assert.deepEqual(parseShareLink("http://10.0.0.5:4780/cmdop/s/cms_abc/"), {
      server: "http://10.0.0.5:4780/cmdop",
      token: "cms_abc",
    });
  });

  it("leaves machine names, prefixes and UUIDs alone", () => {
    for (const name of ["web-1", "s", "3f2a9c1e-0000-4000-8000-000000000000", "cms_abc"]) {
      assert.equal(parseShareLink(name), undefined);
    }
  });

  it("rejects a URL that is not a share link", () => {
    assert.throws(() => parseShareLink("https://relay.example/device"), CliError);
    assert.throws(() => parseShareLink("https://relay.example/s/cmk_key"), /is not a share link/);
  });
});
