/** Tests of finding the config folder and the files in it. */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { configFilePath, resolveHome } from "./paths.ts";
import { ConfigError } from "./errors.ts";
import { fakeEnv } from "./_test_helpers.ts";

describe("resolveHome()", () => {
  it("prefers CMDOP_HOME, then HOME, then USERPROFILE", () => {
    const all = { CMDOP_HOME: "/c", HOME: "/h", USERPROFILE: "C:\\Users\\u" };
    assert.equal(resolveHome(fakeEnv(all)), "/c");
    assert.equal(
      resolveHome(fakeEnv({ ...all, CMDOP_HOME: "" })),
      join("/h", ".cmdop"),
    );
    assert.equal(
      resolveHome(fakeEnv({ USERPROFILE: "/profile" })),
      join("/profile", ".cmdop"),
    );
  });

  it("fails with a hint when no variable says where home is", () => {
    assert.throws(() => resolveHome(fakeEnv({})), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.hint!, /CMDOP_HOME/);
      return true;
    });
  });
});

describe("configFilePath()", () => {
  it("uses the file names of the spec page and earlier versions", () => {
    assert.equal(
      configFilePath("/c", "workspaces"),
      join("/c", "ssh_workspaces.json"),
    );
    assert.equal(
      configFilePath("/c", "legacyConfig"),
      join("/c", "config.json"),
    );
    assert.equal(configFilePath("/c", "auth"), join("/c", "auth.json"));
  });
});
