/** Tests of storing the tokens of `cmdop login`. */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  clearLoginTokens,
  isAccessTokenExpired,
  loadLoginTokens,
  type LoginTokens,
  saveLoginTokens,
} from "./auth_tokens.ts";
import { makeTempHome, modeOf, writeRaw } from "./_test_helpers.ts";

const tokens: LoginTokens = {
  server: "http://127.0.0.1:4780",
  access_token: "access-1",
  refresh_token: "refresh-1",
  expires_at_ms: 1_000_000,
  user: { id: "u1", email: "ada@example.com" },
};

describe("saveLoginTokens() and loadLoginTokens()", () => {
  it("round-trip the login through a 0600 auth.json", async () => {
    const home = await makeTempHome();
    assert.equal(await loadLoginTokens(home), undefined);
    await saveLoginTokens(home, tokens);
    assert.deepEqual(await loadLoginTokens(home), tokens);
    assert.equal(await modeOf(join(home, "auth.json")), 0o600);
  });

  it("replace an earlier login", async () => {
    const home = await makeTempHome();
    await saveLoginTokens(home, tokens);
    await saveLoginTokens(home, {
      server: "http://other:1",
      access_token: "a2",
    });
    assert.deepEqual(await loadLoginTokens(home), {
      server: "http://other:1",
      access_token: "a2",
    });
  });

  it("refuse to store an empty access token", async () => {
    const home = await makeTempHome();
    await assert.rejects(
      saveLoginTokens(home, { server: "http://x", access_token: "" }),
      { message: "access_token must not be empty" },
    );
  });

  it("name auth.json when it has the wrong shape", async () => {
    const home = await makeTempHome();
    const path = join(home, "auth.json");
    await writeRaw(
      path,
      JSON.stringify({
        server: "http://x",
        access_token: "a",
        user: { id: 1 },
      }),
    );
    await assert.rejects(loadLoginTokens(home), {
      message: `"${path}" is not valid: user.id must be a string`,
    });
  });
});

describe("clearLoginTokens()", () => {
  it("removes auth.json and says whether there was a login", async () => {
    const home = await makeTempHome();
    await saveLoginTokens(home, tokens);
    assert.equal(await clearLoginTokens(home), true);
    assert.equal(await loadLoginTokens(home), undefined);
    assert.equal(await clearLoginTokens(home), false);
  });
});

describe("isAccessTokenExpired()", () => {
  it("counts a token as expired shortly before its expiry", () => {
    assert.equal(isAccessTokenExpired(tokens, 900_000), false);
    assert.equal(isAccessTokenExpired(tokens, 975_000), true);
    assert.equal(isAccessTokenExpired(tokens, 2_000_000), true);
    assert.equal(isAccessTokenExpired(tokens, 990_000, 0), false);
  });

  it("treats an unknown expiry as valid", () => {
    const { expires_at_ms: _, ...noExpiry } = tokens;
    assert.equal(
      isAccessTokenExpired(noExpiry, Number.MAX_SAFE_INTEGER),
      false,
    );
  });
});
