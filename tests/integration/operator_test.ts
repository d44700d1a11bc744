/** What a new operator trips over: a workspace's server, hand-made config files, a mistyped --data, list order, the demo's output. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  killAll,
  type RelayProcess,
  ROOT,
  runCmdop,
  startAgent,
  startRelay,
  type Workspace,
} from "../_harness.ts";

let relay: RelayProcess;
let ws: Workspace;

/** A fresh CMDOP_HOME and nothing else: no CMDOP_SERVER, no CMDOP_API_KEY. */
async function bareEnv(): Promise<Record<string, string>> {
  return { CMDOP_HOME: await Deno.makeTempDir({ prefix: "cmdop-home-" }) };
}

describe("a new operator's setup", () => {
  before(async () => {
    relay = await startRelay();
    ws = await relay.createWorkspace("ops");
    // Names whose byte order differs from their order ignoring case.
    for (const [hostname, displayName] of [["alpha", ""], ["Bravo", ""], ["charlie", "Charlie"]]) {
      await startAgent(relay.url, ws.enroll_token, { hostname, displayName });
    }
    await startAgent(relay.url, ws.enroll_token, { hostname: "web-long-name-1" });
    await startAgent(relay.url, ws.enroll_token, { hostname: "web-2", displayName: "W" });
  });
  after(killAll);

  it("keeps a workspace's server from workspace use --server, shown by workspace list", async () => {
    const env = await bareEnv();
    const use = await runCmdop(["connect", "workspace", "use", "ops", "--server", relay.url], {
      env,
    });
    assert.equal(use.code, 0, use.stderr);
    assert.match(
      use.stdout,
      new RegExp(`active workspace: "ops" \\(new workspace\\), server ${relay.url}`),
    );
    const key = await runCmdop(["connect", "key", "set", ws.api_key], { env });
    assert.equal(key.code, 0, key.stderr);
    const list = await runCmdop(["connect", "workspace", "list", "--json"], { env });
    assert.equal(JSON.parse(list.stdout)[0].server, relay.url);
    // Neither --server nor CMDOP_SERVER: the workspace's server is used.
    const machines = await runCmdop(["connect", "--list", "--json"], { env });
    assert.equal(machines.code, 0, machines.stderr);
    assert.equal(JSON.parse(machines.stdout).length, 5);
  });

  it("stores -s with the key on key set, instead of ignoring it", async () => {
    const env = await bareEnv();
    const key = await runCmdop(["connect", "key", "set", ws.api_key, "-s", relay.url], { env });
    assert.equal(key.code, 0, key.stderr);
    assert.match(key.stdout, new RegExp(`server ${relay.url}`));
    const machines = await runCmdop(["connect", "--list", "--json"], { env });
    assert.equal(machines.code, 0, machines.stderr);
  });

  it("warns about a workspace file others can read, and makes it 0600 on the next write", async () => {
    const env = await bareEnv();
    const file = join(env.CMDOP_HOME, "ssh_workspaces.json");
    const content = { version: 1, active: "ops", workspaces: [{ name: "ops", server: relay.url }] };
    await Deno.writeTextFile(file, JSON.stringify(content), { mode: 0o644 });
    await Deno.chmod(file, 0o644);
    const list = await runCmdop(["connect", "workspace", "list"], { env });
    assert.equal(list.code, 0, list.stderr);
    assert.match(
      list.stderr,
      new RegExp(`warning: "${file}" is open to other users \\(mode 0644\\)[\\s\\S]*chmod 600`),
    );
    const key = await runCmdop(["connect", "key", "set", ws.api_key], { env });
    assert.equal(key.code, 0, key.stderr);
    assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
    const again = await runCmdop(["connect", "workspace", "list"], { env });
    assert.doesNotMatch(again.stderr, /warning/);
  });

  it("refuses a --data folder without a relay store unless --init", async () => {
    const typo = join(await Deno.makeTempDir(), "typo");
    const refused = await runCmdop(["relay", "workspace", "create", "x", "--data", typo]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`--data "${typo}" holds no relay store`));
    assert.match(refused.stderr, /hint: .*--init/);
    await assert.rejects(Deno.stat(typo), Deno.errors.NotFound);
    const created = await runCmdop(["relay", "workspace", "create", "x", "--data", typo, "--init"]);
    assert.equal(created.code, 0, created.stderr);
    await Deno.stat(join(typo, "relay.db"));
  });

  it("sorts --list by name ignoring case", async () => {
    const env = { ...(await bareEnv()), CMDOP_SERVER: relay.url, CMDOP_API_KEY: ws.api_key };
    const r = await runCmdop(["connect", "--list", "--json"], { env });
    const names = JSON.parse(r.stdout).map((m: { hostname: string }) => m.hostname);
    assert.deepEqual(names.slice(0, 3), ["alpha", "Bravo", "charlie"]);
  });

  it("lines up the candidates of an ambiguous name", async () => {
    const env = { ...(await bareEnv()), CMDOP_SERVER: relay.url, CMDOP_API_KEY: ws.api_key };
    const r = await runCmdop(["connect", "exec", "web", "--", "true"], { env });
    assert.equal(r.code, 4);
    const lines = r.stderr.split("\n").filter((l) => /online|offline/.test(l) && /web/.test(l));
    assert.equal(lines.length, 2, r.stderr);
    const idColumn = lines.map((l) => l.search(/[0-9a-f]{8}-[0-9a-f]{4}-/));
    assert.equal(new Set(idColumn).size, 1, `ids not aligned:\n${r.stderr}`);
  });
});

describe("make demo", () => {
  it("prints no terminal escape codes when its output is not a terminal", async () => {
    const out = await new Deno.Command("bash", {
      args: [join(ROOT, "scripts/demo.sh")],
      env: { DENO: Deno.execPath(), CI: "true" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, text);
    assert.match(text, /== cmdop connect --list/);
    assert.ok(!text.includes("\x1b["), "an escape sequence in the output");
  });
});
