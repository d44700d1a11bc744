/** `cmdop connect workspace list|use|remove|sync`: local switching, and the login-backed pull from the relay. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import {
  clientEnv,
  killAll,
  type RelayProcess,
  runCmdop,
  startAgent,
  startRelay,
  type Workspace,
} from "../_harness.ts";
import { addUser, loginAs } from "../_login.ts";

const KEY = "cmk_0123456789abcdefghijklmnopqrstuvwxyzABCD";

interface Listed {
  name: string;
  active: boolean;
  workspace_id: string | null;
  api_key: string | null;
  synced_server: string | null;
}

async function listJson(env: Record<string, string>): Promise<Listed[]> {
  const r = await runCmdop(["connect", "workspace", "list", "--json"], { env });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

describe("cmdop connect workspace", () => {
  let relay: RelayProcess;
  let alpha: Workspace;
  let beta: Workspace;

  before(async () => {
    relay = await startRelay({ env: { CMDOP_RELAY_DEVICE_INTERVAL: "1" } });
    alpha = await relay.createWorkspace("alpha");
    beta = await relay.createWorkspace("beta");
    await relay.createWorkspace("gamma");
    await addUser(relay.dataDir, "di@example.com", "di-secret", ["alpha", "beta"]);
    await startAgent(relay.url, beta.enroll_token, { hostname: "beta-box" });
  });

  after(killAll);

  it("lists workspaces with the active one marked and keys masked, and switches", async () => {
    const env = await clientEnv(relay.url);
    await runCmdop(["connect", "key", "set", KEY, "--workspace", "prod"], { env });
    await runCmdop(["connect", "key", "set", KEY, "--workspace", "staging"], { env });
    const table = await runCmdop(["connect", "workspace", "list"], { env });
    assert.match(table.stdout, /^\*\s+prod\s+cmk_\*\*\*\*ABCD/m);
    assert.match(table.stdout, /^\s+staging\s+cmk_\*\*\*\*ABCD/m);
    assert.ok(!table.stdout.includes(KEY));
    const used = await runCmdop(["connect", "workspace", "use", "staging", "--json"], { env });
    assert.deepEqual(JSON.parse(used.stdout), { active: "staging" });
    const listed = await listJson(env);
    assert.deepEqual(listed.map((w) => [w.name, w.active, w.api_key]), [
      ["prod", false, "cmk_****ABCD"],
      ["staging", true, "cmk_****ABCD"],
    ]);
  });

  it("refuses an unknown name, listing the known ones", async () => {
    const env = await clientEnv(relay.url);
    await runCmdop(["connect", "key", "set", KEY, "--workspace", "prod"], { env });
    const r = await runCmdop(["connect", "workspace", "use", "prdo"], { env });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /error: workspace "prdo" is not known\nhint: known workspaces: "prod"/);
    const json = await runCmdop(["connect", "workspace", "remove", "prdo", "--json"], { env });
    assert.equal(json.code, 1);
    assert.equal(JSON.parse(json.stdout).error, 'workspace "prdo" is not known');
  });

  it("removes a workspace locally, with its key, and leaves none active", async () => {
    const env = await clientEnv(relay.url);
    await runCmdop(["connect", "key", "set", KEY, "--workspace", "prod"], { env });
    const r = await runCmdop(["connect", "workspace", "remove", "prod", "--json"], { env });
    assert.deepEqual(JSON.parse(r.stdout), { removed: "prod", was_active: true });
    assert.deepEqual(await listJson(env), []);
    const text = await runCmdop(["connect", "workspace", "list"], { env });
    assert.match(text.stderr, /no workspaces yet/);
  });

  it("requires cmdop login to sync", async () => {
    const env = await clientEnv(relay.url, alpha.api_key);
    const r = await runCmdop(["connect", "workspace", "sync"], { env });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /workspace sync needs a login\nhint: run "cmdop login" first/);
  });

  it("pulls the user's workspaces only, keeping local API keys", async () => {
    const env = await clientEnv(relay.url);
    await runCmdop(["connect", "key", "set", alpha.api_key, "--workspace", "alpha"], { env });
    await runCmdop(["connect", "key", "set", KEY, "--workspace", "mine"], { env });
    assert.equal((await loginAs(relay.url, env, "di@example.com", "di-secret")).code, 0);
    const sync = await runCmdop(["connect", "workspace", "sync", "--json"], { env });
    assert.equal(sync.code, 0, sync.stderr);
    assert.deepEqual(JSON.parse(sync.stdout), {
      added: ["beta"],
      updated: ["alpha"],
      unchanged: [],
      not_on_server: [],
      conflicts: [],
      active: "alpha",
    });
    const listed = await listJson(env);
    assert.deepEqual(listed.map((w) => w.name), ["alpha", "mine", "beta"]);
    const [a, mine, b] = listed;
    assert.equal(a.workspace_id, alpha.workspace_id);
    assert.equal(a.api_key, `${alpha.api_key.slice(0, 4)}****${alpha.api_key.slice(-4)}`);
    assert.equal(a.synced_server, relay.url);
    assert.equal(mine.workspace_id, null);
    assert.equal(b.workspace_id, beta.workspace_id);
    assert.equal(b.api_key, null);

    const again = await runCmdop(["connect", "workspace", "sync"], { env });
    assert.match(again.stdout, /unchanged "alpha"\nunchanged "beta"/);
    // beta has no key locally: the login token acts in it, sent with beta's id.
    await runCmdop(["connect", "workspace", "use", "beta"], { env });
    const list = await runCmdop(["connect", "--list", "--json"], { env });
    assert.deepEqual(JSON.parse(list.stdout).map((m: { hostname: string }) => m.hostname), [
      "beta-box",
    ]);
  });
});
