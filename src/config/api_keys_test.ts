/** Tests of storing, reading, clearing and masking workspace API keys. */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { clearApiKey, getApiKey, maskKey, NoActiveWorkspaceError, setApiKey } from "./api_keys.ts";
import { readWorkspaces, WorkspaceNotFoundError } from "./workspaces.ts";
import { writeJsonFile } from "./json_file.ts";
import { makeTempHome, modeOf } from "./_test_helpers.ts";

async function homeWith(
  active: string | null,
  names: string[],
): Promise<string> {
  const home = await makeTempHome();
  await writeJsonFile(join(home, "ssh_workspaces.json"), {
    version: 1,
    active,
    workspaces: names.map((name) => ({ name })),
  });
  return home;
}

describe("setApiKey()", () => {
  it("creates an active workspace named default when there is none", async () => {
    const home = await makeTempHome();
    assert.deepEqual(await setApiKey(home, "  key-1\n"), {
      workspace: "default",
      created: true,
    });
    assert.deepEqual(await readWorkspaces(home), {
      version: 1,
      active: "default",
      workspaces: [{ name: "default", api_key: "key-1" }],
    });
    assert.equal(await modeOf(join(home, "ssh_workspaces.json")), 0o600);
    assert.equal(await modeOf(home), 0o700);
  });

  it("stores the key in the active workspace", async () => {
    const home = await homeWith("staging", ["prod", "staging"]);
    assert.deepEqual(await setApiKey(home, "key-s"), {
      workspace: "staging",
      created: false,
    });
    const file = await readWorkspaces(home);
    assert.equal(file.workspaces[1].api_key, "key-s");
    assert.equal(file.workspaces[0].api_key, undefined);
  });

  it("creates a named workspace without changing which one is active", async () => {
    const home = await homeWith("prod", ["prod"]);
    assert.deepEqual(await setApiKey(home, "key-qa", "qa"), {
      workspace: "qa",
      created: true,
    });
    const file = await readWorkspaces(home);
    assert.equal(file.active, "prod");
    assert.deepEqual(file.workspaces[1], { name: "qa", api_key: "key-qa" });
  });

  it("refuses to guess when workspaces exist but none is active", async () => {
    const home = await homeWith(null, ["prod", "staging"]);
    await assert.rejects(setApiKey(home, "key"), (error: unknown) => {
      assert.ok(error instanceof NoActiveWorkspaceError);
      assert.match(error.hint!, /"prod", "staging"/);
      return true;
    });
  });

  it("rejects empty keys and keys with whitespace inside", async () => {
    const home = await makeTempHome();
    await assert.rejects(setApiKey(home, "  "), {
      message: "the API key is empty",
    });
    await assert.rejects(setApiKey(home, "ab cd"), {
      message: "the API key contains whitespace",
    });
    assert.deepEqual((await readWorkspaces(home)).workspaces, []);
  });
});

describe("getApiKey()", () => {
  it("reads the key of the active or the named workspace", async () => {
    const home = await homeWith("prod", ["prod", "staging"]);
    await setApiKey(home, "key-p");
    assert.deepEqual(await getApiKey(home), {
      workspace: "prod",
      apiKey: "key-p",
    });
    assert.deepEqual(await getApiKey(home, "staging"), {
      workspace: "staging",
      apiKey: undefined,
    });
    await assert.rejects(getApiKey(home, "qa"), WorkspaceNotFoundError);
  });

  it("says there are no workspaces yet when the file is missing", async () => {
    const home = await makeTempHome();
    await assert.rejects(getApiKey(home), {
      message: "there are no workspaces yet",
    });
  });
});

describe("clearApiKey()", () => {
  it("removes the key but keeps the workspace", async () => {
    const home = await homeWith("prod", ["prod"]);
    await setApiKey(home, "key-p");
    assert.deepEqual(await clearApiKey(home), {
      workspace: "prod",
      cleared: true,
    });
    assert.deepEqual(await clearApiKey(home), {
      workspace: "prod",
      cleared: false,
    });
    assert.deepEqual((await readWorkspaces(home)).workspaces, [{
      name: "prod",
    }]);
  });
});

describe("maskKey()", () => {
  it("shows the first and last four characters of long keys", () => {
    assert.equal(maskKey("cmdop_0123456789abcdef"), "cmdo****cdef");
  });

  it("masks short keys entirely", () => {
    assert.equal(maskKey("short"), "****");
    assert.equal(maskKey("0123456789abcde"), "****");
    assert.equal(maskKey(""), "****");
  });
});
