/** Operator verbs for a workspace's secrets and machines (list, create with expiry, revoke, remove), and secrets kept off the command line. */
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
  waitFor,
  type Workspace,
} from "../_harness.ts";
import { HOUR_MS, type TestClock, testClock } from "../_login.ts";

describe("a workspace's credentials and machines", () => {
  let relay: RelayProcess;
  let clock: TestClock;
  let ws: Workspace;
  let env: Record<string, string>;
  const admin = (...args: string[]) =>
    runCmdop(["relay", ...args, "--workspace", "acme", "--data", relay.dataDir]);

  before(async () => {
    clock = await testClock();
    relay = await startRelay({ env: clock.env });
    ws = await relay.createWorkspace("acme");
    env = await clientEnv(relay.url, ws.api_key);
  });
  after(killAll);

  /** `cmdop agent run` with the token in a file; resolves with its exit code and stderr once it ends or comes online. */
  async function enrollFromFile(token: string, hostname: string) {
    const dir = await Deno.makeTempDir();
    const file = join(dir, "token");
    await Deno.writeTextFile(file, token + "\n", { mode: 0o600 });
    const state = join(dir, "state");
    const agent = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--quiet",
        join(Deno.cwd(), "main.ts"),
        "agent",
        "run",
        "--server",
        relay.url,
        "--enroll-token-file",
        file,
        "--state",
        state,
        "--hostname",
        hostname,
      ],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    let stderr = "";
    const reading = (async () => {
      for await (const chunk of agent.stderr) stderr += new TextDecoder().decode(chunk);
    })();
    await waitFor(
      `agent ${hostname} to enroll or give up`,
      async () =>
        /online as machine|error:/.test(stderr) ||
        (await Promise.race([agent.status.then(() => true), Promise.resolve(false)])),
    );
    try {
      agent.kill("SIGTERM");
    } catch { /* already ended */ }
    await agent.status;
    await reading;
    return stderr;
  }

  it("an enroll token from a file enrolls without a command-line warning; on the command line it warns", async () => {
    const created = await admin("enroll-token", "create", "--ttl", "2h", "--json");
    assert.equal(created.code, 0, created.stderr);
    const token = JSON.parse(created.stdout).enroll_token;
    const stderr = await enrollFromFile(token, "from-file");
    assert.match(stderr, /online as machine/);
    assert.doesNotMatch(stderr, /warning/);
    const agent = await startAgent(relay.url, token, { hostname: "from-argv" });
    assert.match(agent.stderr(), /warning: --enroll-token can be read by any local user/);
  });

  it("an enroll token with --ttl stops enrolling once it expires", async () => {
    const created = await admin("enroll-token", "create", "--ttl", "1h", "--json");
    const { enroll_token: token, expires_at } = JSON.parse(created.stdout);
    assert.ok(expires_at);
    await clock.advance(2 * HOUR_MS);
    const stderr = await enrollFromFile(token, "too-late");
    assert.match(stderr, /enroll token is not valid \(or expired\)/);
  });

  it("lists API keys and enroll tokens by fingerprint, and revokes an API key", async () => {
    const extra = await admin("key", "create", "--json");
    const key = JSON.parse(extra.stdout).api_key as string;
    const listed = JSON.parse((await admin("key", "list", "--json")).stdout) as {
      kind: string;
      fingerprint: string;
    }[];
    assert.equal(listed.filter((c) => c.kind === "api_key").length, 2);
    assert.ok(!JSON.stringify(listed).includes("cmk_"));
    const keyEnv = { ...env, CMDOP_API_KEY: key };
    assert.equal((await runCmdop(["connect", "--list"], { env: keyEnv })).code, 0);
    const fingerprint = JSON.parse(extra.stdout).fingerprint as string;
    const revoked = await admin("key", "revoke", fingerprint);
    assert.equal(revoked.code, 0, revoked.stderr);
    const refused = await runCmdop(["connect", "--list"], { env: keyEnv });
    assert.equal(refused.code, 2, refused.stderr);
    assert.equal((await runCmdop(["connect", "--list"], { env })).code, 0, "the other key works");
    const again = await admin("key", "revoke", fingerprint);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /no API key/);
  });

  it("revokes an enroll token", async () => {
    const created = JSON.parse((await admin("enroll-token", "create", "--json")).stdout);
    assert.equal((await admin("enroll-token", "revoke", created.fingerprint)).code, 0);
    const stderr = await enrollFromFile(created.enroll_token, "revoked-token");
    assert.match(stderr, /enroll token is not valid/);
  });

  it("removes a machine: gone from the list, its agent refused, its name free again", async () => {
    const agent = await startAgent(relay.url, ws.enroll_token, { hostname: "doomed" });
    const list = JSON.parse((await runCmdop(["connect", "--list", "--json"], { env })).stdout);
    const id = list.find((m: { hostname: string }) => m.hostname === "doomed").id;
    const removed = await admin("machine", "remove", id);
    assert.equal(removed.code, 0, removed.stderr);
    const after = JSON.parse((await runCmdop(["connect", "--list", "--json"], { env })).stdout);
    assert.ok(!after.some((m: { id: string }) => m.id === id));
    await agent.kill();
    const state = JSON.parse(await Deno.readTextFile(join(agent.stateDir, "agent.json")));
    assert.equal(state.machine_id, id);
    const back = await startAgent(relay.url, ws.enroll_token, {
      hostname: "doomed",
      stateDir: agent.stateDir,
      waitOnline: false,
    });
    await waitFor(
      "the removed machine's agent to be refused",
      () => /rejected this machine's credential/.test(back.stderr()),
    );
    const fresh = await startAgent(relay.url, ws.enroll_token, { hostname: "doomed" });
    assert.match(fresh.stderr(), /online as machine/);
  });
});
