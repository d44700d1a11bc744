/** Every operation on every cmdop file refuses a corrupt file by name and leaves its bytes alone. */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { ConfigFileError } from "./json_file.ts";
import {
  getActiveWorkspace,
  getWorkspace,
  listWorkspaces,
  readWorkspaces,
  removeWorkspace,
  useWorkspace,
} from "./workspaces.ts";
import { clearApiKey, getApiKey, setApiKey } from "./api_keys.ts";
import { upsertWorkspacesFromServer } from "./workspace_sync.ts";
import { loadLoginTokens, saveLoginTokens } from "./auth_tokens.ts";
import {
  clearMachinePassword,
  getMachinePassword,
  listMachinePasswords,
  setMachinePassword,
} from "./passwords.ts";
import { recentOrder, touchRecent } from "./recent.ts";
import { migrateLegacyApiKey, readLegacyApiKey } from "./legacy_config.ts";
import { resolveCredential, resolveServer } from "./credentials.ts";
import { fakeEnv, makeTempHome, writeRaw } from "./_test_helpers.ts";

type Operation = [label: string, run: (home: string) => Promise<unknown>];

const machine = { workspace: "prod", machineId: "m-1" };
const noFlags = (home: string) => ({ home, env: fakeEnv({}), flags: {} });

const operationsByFile: Record<string, Operation[]> = {
  "ssh_workspaces.json": [
    ["readWorkspaces", (home) => readWorkspaces(home)],
    ["listWorkspaces", (home) => listWorkspaces(home)],
    ["getWorkspace", (home) => getWorkspace(home, "prod")],
    ["getActiveWorkspace", (home) => getActiveWorkspace(home)],
    ["useWorkspace", (home) => useWorkspace(home, "prod")],
    ["removeWorkspace", (home) => removeWorkspace(home, "prod")],
    ["setApiKey", (home) => setApiKey(home, "key")],
    ["getApiKey", (home) => getApiKey(home)],
    ["clearApiKey", (home) => clearApiKey(home)],
    [
      "upsertWorkspacesFromServer",
      (home) => upsertWorkspacesFromServer(home, [{ id: "w", name: "prod" }]),
    ],
    ["resolveCredential", (home) => resolveCredential(noFlags(home))],
    ["resolveServer", (home) => resolveServer(noFlags(home))],
  ],
  "auth.json": [
    ["loadLoginTokens", (home) => loadLoginTokens(home)],
    [
      "saveLoginTokens",
      (home) => saveLoginTokens(home, { server: "http://x", access_token: "a" }),
    ],
    ["resolveCredential", (home) => resolveCredential(noFlags(home))],
    ["resolveServer", (home) => resolveServer(noFlags(home))],
  ],
  "machine_passwords.json": [
    [
      "setMachinePassword",
      (home) =>
        setMachinePassword(
          home,
          { ...machine, hostname: "h", password: "p", server: "http://127.0.0.1:1" },
          () => 1,
        ),
    ],
    ["getMachinePassword", (home) => getMachinePassword(home, machine)],
    ["clearMachinePassword", (home) => clearMachinePassword(home, machine)],
    ["listMachinePasswords", (home) => listMachinePasswords(home)],
  ],
  "recent.json": [
    ["touchRecent", (home) => touchRecent(home, "prod", "m-1", () => 1)],
    ["recentOrder", (home) => recentOrder(home, "prod")],
  ],
  "config.json": [
    ["readLegacyApiKey", (home) => readLegacyApiKey(home)],
    ["migrateLegacyApiKey", (home) => migrateLegacyApiKey(home)],
    ["resolveCredential", (home) => resolveCredential(noFlags(home))],
  ],
};

/** Broken content: not JSON at all, and JSON of the wrong shape for that file. */
const corruptions: Record<string, string[]> = {
  "ssh_workspaces.json": [
    '{"active": "prod", "workspaces": [',
    '{"workspaces": [{"name": 1}]}',
  ],
  "auth.json": ["\u0000\u0001", '{"server": "http://x"}'],
  "machine_passwords.json": ["[", '{"passwords": [{"workspace": "prod"}]}'],
  "recent.json": ["", '{"entries": "yesterday"}'],
  "config.json": ["Chat = 1", '{"Chat": {"GrpcAPIKey": 42}}'],
};

describe("a corrupt file", () => {
  for (const [fileName, operations] of Object.entries(operationsByFile)) {
    it(`in ${fileName} is named by every operation and stays byte-for-byte the same`, async () => {
      for (const content of corruptions[fileName]) {
        const home = await makeTempHome();
        const path = join(home, fileName);
        await writeRaw(path, content);
        const before = await Deno.readFile(path);
        for (const [label, run] of operations) {
          await assert.rejects(run(home), (error: unknown) => {
            assert.ok(error instanceof ConfigFileError, `${label}: ${error}`);
            assert.equal(error.path, path, label);
            assert.ok(error.message.startsWith(`"${path}" `), label);
            return true;
          });
          assert.deepEqual(await Deno.readFile(path), before, label);
        }
      }
    });
  }
});
