/** `cmdop connect key set|get|clear`, legacy `set-key`, the credential chain's order, and the workspace file under pressure. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
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

async function workspacesFile(home: string): Promise<Record<string, unknown>> {
  return JSON.parse(await Deno.readTextFile(join(home, "ssh_workspaces.json")));
}

/** Hostnames `connect --list` shows: which workspace the chain picked. */
async function listed(env: Record<string, string>, args: string[] = []): Promise<string[]> {
  const r = await runCmdop(["connect", "--list", "--json", ...args], { env });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout).map((m: { hostname: string }) => m.hostname);
}

describe("cmdop connect key", () => {
  it("stores a key in a new default workspace (0600) and prints it masked", async () => {
    const env = await clientEnv("http://127.0.0.1:9");
    const set = await runCmdop(["connect", "key", "set", KEY], { env });
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /stored in workspace "default" \(new workspace\)/);
    assert.ok(!set.stdout.includes(KEY));
    const path = join(env.CMDOP_HOME, "ssh_workspaces.json");
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    const file = await workspacesFile(env.CMDOP_HOME);
    assert.equal(file.active, "default");
    const get = await runCmdop(["connect", "key", "get"], { env });
    assert.equal(get.stdout, "cmk_****ABCD\n");
    const json = await runCmdop(["connect", "key", "get", "--json"], { env });
    assert.deepEqual(JSON.parse(json.stdout), { workspace: "default", api_key: "cmk_****ABCD" });
  });

  it("clears the key but keeps the workspace; get then fails", async () => {
    const env = await clientEnv("http://127.0.0.1:9");
    await runCmdop(["connect", "key", "set", KEY, "--workspace", "prod"], { env });
    const clear = await runCmdop(["connect", "key", "clear", "--json"], { env });
    assert.deepEqual(JSON.parse(clear.stdout), { workspace: "prod", cleared: true });
    const get = await runCmdop(["connect", "key", "get"], { env });
    assert.equal(get.code, 1);
    assert.match(get.stderr, /workspace "prod" has no API key/);
    assert.deepEqual((await workspacesFile(env.CMDOP_HOME)).workspaces, [{ name: "prod" }]);
  });

  it("accepts the legacy set-key with a deprecation notice on stderr", async () => {
    const env = await clientEnv("http://127.0.0.1:9");
    const r = await runCmdop(["connect", "set-key", KEY], { env });
    assert.equal(r.code, 0);
    assert.match(
      r.stderr,
      /"cmdop connect set-key" is deprecated; use "cmdop connect key set <KEY>"/,
    );
    assert.equal((await runCmdop(["connect", "key", "get"], { env })).stdout, "cmk_****ABCD\n");
  });

  it("reads the key from stdin when it is not an argument, and fails clearly on empty stdin", async () => {
    const env = await clientEnv("http://127.0.0.1:9");
    const piped = await runCmdop(["connect", "key", "set"], { env, stdin: KEY + "\n" });
    assert.equal(piped.code, 0, piped.stderr);
    const empty = await runCmdop(["connect", "key", "set", "--no-interactive"], { env });
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /the API key read from stdin is empty/);
  });

  it("loses no workspace when 20 processes set keys at once, and leaves a valid 0600 file", async () => {
    const env = await clientEnv("http://127.0.0.1:9");
    const results = await Promise.all(
      Array.from(
        { length: 20 },
        (_, i) =>
          runCmdop(["connect", "key", "set", `${KEY}${i}`, "--workspace", `ws-${i}`], { env }),
      ),
    );
    for (const r of results) assert.equal(r.code, 0, r.stderr);
    const file = await workspacesFile(env.CMDOP_HOME);
    const names = (file.workspaces as { name: string; api_key: string }[]).map((w) => w.name);
    assert.deepEqual(names.sort(), Array.from({ length: 20 }, (_, i) => `ws-${i}`).sort());
    for (const w of file.workspaces as { name: string; api_key: string }[]) {
      assert.equal(w.api_key, `${KEY}${w.name.slice(3)}`);
    }
    const path = join(env.CMDOP_HOME, "ssh_workspaces.json");
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    const leftovers = [...Deno.readDirSync(env.CMDOP_HOME)].filter((e) => e.name.endsWith(".tmp"));
    assert.deepEqual(leftovers, []);
  });

  it("leaves a corrupt workspace file byte for byte and names it in the error", async () => {
    const env = await clientEnv("http://127.0.0.1:9");
    const path = join(env.CMDOP_HOME, "ssh_workspaces.json");
    const garbage = new TextEncoder().encode('{"version": 1, "workspaces": [ oops');
    await Deno.writeFile(path, garbage);
    for (
      const args of [
        ["connect", "key", "set", KEY],
        ["connect", "key", "get"],
        ["connect", "workspace", "list"],
        ["connect", "workspace", "use", "x"],
        ["connect", "--list"],
      ]
    ) {
      const r = await runCmdop(args, { env });
      assert.equal(r.code, 1, args.join(" "));
      assert.ok(r.stderr.includes(`"${path}" is not valid JSON`), r.stderr);
      assert.deepEqual(await Deno.readFile(path), garbage);
    }
  });
});

describe("the credential chain", () => {
  let relay: RelayProcess;
  let a: Workspace;
  let b: Workspace;

  before(async () => {
    relay = await startRelay({ env: { CMDOP_RELAY_DEVICE_INTERVAL: "1" } });
    [a, b] = [await relay.createWorkspace("alpha"), await relay.createWorkspace("beta")];
    await addUser(relay.dataDir, "cy@example.com", "cy-secret", ["beta"]);
    await Promise.all([
      startAgent(relay.url, a.enroll_token, { hostname: "alpha-box" }),
      startAgent(relay.url, b.enroll_token, { hostname: "beta-box" }),
    ]);
  });

  after(killAll);

  it("takes the flag, then the environment, then --workspace, then the active workspace", async () => {
    const env = await clientEnv(relay.url);
    await runCmdop(["connect", "key", "set", a.api_key, "--workspace", "alpha"], { env });
    await runCmdop(["connect", "key", "set", b.api_key, "--workspace", "beta"], { env });
    await runCmdop(["connect", "workspace", "use", "beta"], { env });
    assert.deepEqual(await listed(env), ["beta-box"]);
    assert.deepEqual(await listed(env, ["--workspace", "alpha"]), ["alpha-box"]);
    const withEnv = { ...env, CMDOP_API_KEY: a.api_key };
    assert.deepEqual(await listed(withEnv, ["--workspace", "beta"]), ["alpha-box"]);
    assert.deepEqual(await listed({ ...env, CMDOP_API_KEY: "cmk_bad" }, ["-k", b.api_key]), [
      "beta-box",
    ]);
  });

  it("names the source of a refused credential at every step", async () => {
    const env = await clientEnv(relay.url);
    await runCmdop(["connect", "key", "set", "cmk_wrong_active_key_0000", "--workspace", "w"], {
      env,
    });
    const file = join(env.CMDOP_HOME, "ssh_workspaces.json");
    const cases: [string[], Record<string, string>, string][] = [
      [["-k", "cmk_wrong"], {}, "--api-key flag"],
      [[], { CMDOP_API_KEY: "cmk_wrong" }, "CMDOP_API_KEY environment variable"],
      [["--workspace", "w"], {}, `workspace "w" in ${file}`],
      [[], {}, `active workspace "w" in ${file}`],
    ];
    for (const [args, extra, source] of cases) {
      const r = await runCmdop(["connect", "--list", ...args], { env: { ...env, ...extra } });
      assert.equal(r.code, 2);
      assert.ok(r.stderr.includes(`(credential from ${source})`), r.stderr);
    }
  });

  it("moves a legacy cfg.Chat.GrpcAPIKey into the active workspace, after the stored keys", async () => {
    const env = await clientEnv(relay.url);
    const config = join(env.CMDOP_HOME, "config.json");
    await Deno.mkdir(env.CMDOP_HOME, { recursive: true });
    await Deno.writeTextFile(
      config,
      JSON.stringify({ Chat: { GrpcAPIKey: a.api_key }, Theme: "dark" }),
    );
    assert.deepEqual(await listed(env), ["alpha-box"]);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(config)), { Chat: {}, Theme: "dark" });
    assert.equal(
      (await runCmdop(["connect", "key", "get"], { env })).stdout,
      `${a.api_key.slice(0, 4)}****${a.api_key.slice(-4)}\n`,
    );

    const both = await clientEnv(relay.url);
    await runCmdop(["connect", "key", "set", b.api_key], { env: both });
    await Deno.writeTextFile(
      join(both.CMDOP_HOME, "config.json"),
      JSON.stringify({ Chat: { GrpcAPIKey: a.api_key } }),
    );
    assert.deepEqual(await listed(both), ["beta-box"]);
  });

  it("falls back to the login token last, and says how to give a credential when there is none", async () => {
    const env = await clientEnv(relay.url);
    const none = await runCmdop(["connect", "--list"], { env });
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no API key or login found/);
    assert.match(none.stderr, /hint: pass --api-key <KEY>, set CMDOP_API_KEY/);
    assert.equal((await loginAs(relay.url, env, "cy@example.com", "cy-secret")).code, 0);
    assert.deepEqual(await listed(env), ["beta-box"]);
    await runCmdop(["connect", "key", "set", a.api_key], { env });
    assert.deepEqual(await listed(env), ["alpha-box"]);
    await runCmdop(["connect", "key", "clear"], { env });
    const path = join(env.CMDOP_HOME, "auth.json");
    const forgedLogin = {
      server: relay.url,
      access_token: "cma_forged",
      refresh_token: "cmr_forged",
    };
    await Deno.writeTextFile(path, JSON.stringify(forgedLogin));
    const forged = await runCmdop(["connect", "--list"], { env });
    assert.equal(forged.code, 2);
    assert.ok(
      forged.stderr.includes(`the login in ${path} has expired or was revoked`),
      forged.stderr,
    );
    assert.match(forged.stderr, /hint: run "cmdop login" again/);
  });
});
