/** Tests of merging the relay's workspace list into the local workspace file. */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { upsertWorkspacesFromServer } from "./workspace_sync.ts";
import { readWorkspaces, type WorkspacesFile } from "./workspaces.ts";
import { writeJsonFile } from "./json_file.ts";
import { makeTempHome, modeOf } from "./_test_helpers.ts";

async function homeWith(file: WorkspacesFile): Promise<string> {
  const home = await makeTempHome();
  await writeJsonFile(join(home, "ssh_workspaces.json"), file);
  return home;
}

describe("upsertWorkspacesFromServer()", () => {
  it("adds every workspace to an empty file and activates the first", async () => {
    const home = await makeTempHome();
    const result = await upsertWorkspacesFromServer(home, [
      { id: "w1", name: "prod", server: "https://relay.example" },
      { id: "w2", name: "staging", server: "" },
    ]);
    assert.deepEqual(result.added, ["prod", "staging"]);
    assert.equal(result.active, "prod");
    assert.deepEqual(await readWorkspaces(home), {
      version: 1,
      active: "prod",
      workspaces: [
        {
          name: "prod",
          workspace_id: "w1",
          synced_server: "https://relay.example",
        },
        { name: "staging", workspace_id: "w2" },
      ],
    });
    assert.equal(await modeOf(join(home, "ssh_workspaces.json")), 0o600);
  });

  it("keeps local API keys and server overrides", async () => {
    const home = await homeWith({
      version: 1,
      active: "prod",
      workspaces: [{
        name: "prod",
        api_key: "key-p",
        server: "http://override:1",
      }],
    });
    const result = await upsertWorkspacesFromServer(home, [
      { id: "w1", name: "prod", server: "https://relay.example" },
    ]);
    assert.deepEqual(result.updated, ["prod"]);
    assert.deepEqual((await readWorkspaces(home)).workspaces, [{
      name: "prod",
      api_key: "key-p",
      server: "http://override:1",
      workspace_id: "w1",
      synced_server: "https://relay.example",
    }]);
  });

  it("follows a rename on the relay by id, keeping the key and the active mark", async () => {
    const home = await homeWith({
      version: 1,
      active: "prod",
      workspaces: [{ name: "prod", workspace_id: "w1", api_key: "key-p" }],
    });
    const result = await upsertWorkspacesFromServer(home, [
      { id: "w1", name: "production" },
    ]);
    assert.deepEqual(result.updated, ["production"]);
    assert.deepEqual(await readWorkspaces(home), {
      version: 1,
      active: "production",
      workspaces: [{
        name: "production",
        workspace_id: "w1",
        api_key: "key-p",
      }],
    });
  });

  it("keeps local-only workspaces and reports ones the relay no longer lists", async () => {
    const home = await homeWith({
      version: 1,
      active: null,
      workspaces: [
        { name: "mine", api_key: "k" },
        { name: "gone", workspace_id: "w9" },
      ],
    });
    const result = await upsertWorkspacesFromServer(home, [{
      id: "w1",
      name: "prod",
    }]);
    assert.deepEqual(result.notOnServer, ["gone"]);
    assert.deepEqual(
      (await readWorkspaces(home)).workspaces.map((w) => w.name),
      ["mine", "gone", "prod"],
    );
  });

  it("reports a name clash instead of overwriting a different workspace", async () => {
    const workspaces = [{ name: "prod", workspace_id: "w-old", api_key: "k" }];
    const home = await homeWith({ version: 1, active: "prod", workspaces });
    const result = await upsertWorkspacesFromServer(home, [
      { id: "w-new", name: "prod" },
    ]);
    assert.equal(result.conflicts.length, 1);
    assert.equal(result.conflicts[0].id, "w-new");
    assert.deepEqual((await readWorkspaces(home)).workspaces, workspaces);
  });

  it("reports nothing changed on a second identical sync", async () => {
    const home = await makeTempHome();
    const remote = [{ id: "w1", name: "prod" }];
    await upsertWorkspacesFromServer(home, remote);
    const again = await upsertWorkspacesFromServer(home, remote);
    assert.deepEqual(again.unchanged, ["prod"]);
    assert.deepEqual(again.added, []);
  });
});
