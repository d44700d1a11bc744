/** Tests of the workspace file: listing, choosing, removing and validating workspaces. */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  getActiveWorkspace,
  getWorkspace,
  listWorkspaces,
  parseWorkspacesFile,
  readWorkspaces,
  removeWorkspace,
  useWorkspace,
  WorkspaceNotFoundError,
  type WorkspacesFile,
} from "./workspaces.ts";
import { writeJsonFile } from "./json_file.ts";
import { makeTempHome, modeOf, readRawJson } from "./_test_helpers.ts";

async function homeWith(file: WorkspacesFile): Promise<string> {
  const home = await makeTempHome();
  await writeJsonFile(join(home, "ssh_workspaces.json"), file);
  return home;
}

const twoWorkspaces: WorkspacesFile = {
  version: 1,
  active: "prod",
  workspaces: [
    { name: "prod", api_key: "key-prod", workspace_id: "w1" },
    { name: "staging", server: "http://staging:4780" },
  ],
};

describe("readWorkspaces()", () => {
  it("returns an empty list when the file does not exist", async () => {
    const home = await makeTempHome();
    assert.deepEqual(await readWorkspaces(home), {
      version: 1,
      active: null,
      workspaces: [],
    });
  });
});

describe("listWorkspaces()", () => {
  it("marks the active workspace", async () => {
    const home = await homeWith(twoWorkspaces);
    const listed = await listWorkspaces(home);
    assert.deepEqual(listed.map((w) => [w.name, w.active]), [
      ["prod", true],
      ["staging", false],
    ]);
  });
});

describe("getWorkspace() and getActiveWorkspace()", () => {
  it("find workspaces by name and the active one", async () => {
    const home = await homeWith(twoWorkspaces);
    assert.equal(
      (await getWorkspace(home, "staging"))?.server,
      "http://staging:4780",
    );
    assert.equal(await getWorkspace(home, "nope"), undefined);
    assert.equal((await getActiveWorkspace(home))?.name, "prod");
  });
});

describe("useWorkspace()", () => {
  it("makes a known workspace active in a 0600 file", async () => {
    const home = await homeWith(twoWorkspaces);
    await useWorkspace(home, "staging");
    assert.equal((await readWorkspaces(home)).active, "staging");
    assert.equal(await modeOf(join(home, "ssh_workspaces.json")), 0o600);
  });

  it("names the known workspaces when the name is unknown", async () => {
    const home = await homeWith(twoWorkspaces);
    await assert.rejects(useWorkspace(home, "prdo"), (error: unknown) => {
      assert.ok(error instanceof WorkspaceNotFoundError);
      assert.equal(error.message, 'workspace "prdo" is not known');
      assert.equal(error.hint, 'known workspaces: "prod", "staging"');
      assert.equal(error.exitCode, 1);
      return true;
    });
    assert.equal((await readWorkspaces(home)).active, "prod");
  });

  it("says how to get workspaces when there are none", async () => {
    const home = await makeTempHome();
    await assert.rejects(useWorkspace(home, "prod"), {
      hint:
        'there are no workspaces yet: run "cmdop connect workspace sync" or "cmdop connect key set <KEY>"',
    });
  });
});

describe("removeWorkspace()", () => {
  it("clears active when the active workspace is removed", async () => {
    const home = await homeWith(twoWorkspaces);
    const { removed, wasActive } = await removeWorkspace(home, "prod");
    assert.equal(removed.name, "prod");
    assert.equal(wasActive, true);
    const file = await readWorkspaces(home);
    assert.equal(file.active, null);
    assert.deepEqual(file.workspaces.map((w) => w.name), ["staging"]);
  });

  it("keeps active when another workspace is removed", async () => {
    const home = await homeWith(twoWorkspaces);
    assert.equal((await removeWorkspace(home, "staging")).wasActive, false);
    assert.equal((await readWorkspaces(home)).active, "prod");
  });

  it("refuses an unknown name", async () => {
    const home = await homeWith(twoWorkspaces);
    await assert.rejects(removeWorkspace(home, "qa"), WorkspaceNotFoundError);
    assert.deepEqual(
      await readRawJson(join(home, "ssh_workspaces.json")),
      twoWorkspaces,
    );
  });
});

describe("parseWorkspacesFile()", () => {
  it("accepts a file without version, active or workspaces", () => {
    assert.deepEqual(parseWorkspacesFile({}), {
      version: 1,
      active: null,
      workspaces: [],
    });
  });

  it("treats null optional fields as absent", () => {
    const file = parseWorkspacesFile({
      active: "a",
      workspaces: [{ name: "a", api_key: null, server: null }],
    });
    assert.deepEqual(file.workspaces, [{ name: "a" }]);
  });

  it("explains each kind of invalid content", () => {
    const cases: Array<[unknown, string]> = [
      [[], "the document must be an object"],
      [{ workspaces: {} }, "workspaces must be an array"],
      [{ workspaces: ["a"] }, "workspaces[0] must be an object"],
      [{ workspaces: [{ name: "" }] }, "workspaces[0].name must not be empty"],
      [
        { workspaces: [{ name: "a", api_key: 5 }] },
        "workspaces[0].api_key must be a string",
      ],
      [
        { workspaces: [{ name: "a" }, { name: "a" }] },
        'workspaces[1].name repeats the name "a"',
      ],
      [
        { active: "b", workspaces: [{ name: "a" }] },
        'active names "b", which is not in workspaces',
      ],
      [
        { version: 2, workspaces: [] },
        "version is 2, newer than this cmdop supports (1)",
      ],
    ];
    for (const [value, message] of cases) {
      assert.throws(() => parseWorkspacesFile(value), { message });
    }
  });
});
