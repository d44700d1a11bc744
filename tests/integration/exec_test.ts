/** `cmdop connect exec` and `--list` against a real relay and agents, judged by exit code and output. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import {
  type AgentProcess,
  clientEnv,
  killAll,
  MACHINE_VARIABLE,
  processAlive,
  type RelayProcess,
  runCmdop,
  startAgent,
  startRelay,
  waitMachineOnline,
  type Workspace,
} from "../_harness.ts";

/** Prints the marker of the agent that runs it: which machine ran the command. */
const MARKER = `echo "$${MACHINE_VARIABLE}"`;

describe("cmdop connect exec", () => {
  let relay: RelayProcess;
  let ws: Workspace;
  let env: Record<string, string>;
  let web1: AgentProcess;
  let offlineId = "";

  before(async () => {
    relay = await startRelay();
    ws = await relay.createWorkspace("acme");
    env = await clientEnv(relay.url, ws.api_key);
    [web1] = await Promise.all([
      startAgent(relay.url, ws.enroll_token, { hostname: "web-1", displayName: "Web One" }),
      startAgent(relay.url, ws.enroll_token, { hostname: "web-2" }),
      startAgent(relay.url, ws.enroll_token, { hostname: "db-primary" }),
    ]);
    const gone = await startAgent(relay.url, ws.enroll_token, { hostname: "old-box" });
    await gone.stop();
    await waitMachineOnline(relay.url, ws.api_key, "old-box", false);
    const list = await runCmdop(["connect", "--list", "--json"], { env });
    offlineId = JSON.parse(list.stdout).find((m: { hostname: string }) =>
      m.hostname === "old-box"
    ).id;
  });

  after(async () => {
    await killAll();
  });

  it("exits 0 and prints the remote stdout, from the machine named", async () => {
    const r = await runCmdop(["connect", "exec", "db-primary", "--", "echo", "hello world"], {
      env,
    });
    assert.equal(r.stdout, "hello world\n");
    assert.equal(r.code, 0);
    // Every agent here has the same `hostname`: its marker tells which one ran the command.
    const which = await runCmdop(["connect", "exec", "db-primary", "--", "sh", "-c", MARKER], {
      env,
    });
    assert.equal(which.stdout, "db-primary\n");
  });

  it("passes the remote exit code through and keeps stdout and stderr apart", async () => {
    const r = await runCmdop(
      ["connect", "exec", "db-primary", "--", "sh", "-c", "echo out; echo err >&2; exit 7"],
      { env },
    );
    assert.equal(r.code, 7);
    assert.equal(r.stdout, "out\n");
    assert.equal(r.stderr, "err\n");
  });

  it("runs argv directly, without a shell in between", async () => {
    const r = await runCmdop(["connect", "exec", "db-primary", "--", "echo", "$HOME", "*"], {
      env,
    });
    assert.equal(r.stdout, "$HOME *\n");
  });

  it("prints one JSON envelope with --json", async () => {
    const r = await runCmdop(
      [
        "connect",
        "exec",
        "db-primary",
        "--json",
        "--",
        "sh",
        "-c",
        "printf a; printf b >&2; exit 3",
      ],
      { env },
    );
    assert.equal(r.code, 3);
    const envelope = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(envelope).sort(), [
      "duration_ms",
      "exit_code",
      "stderr",
      "stdout",
    ]);
    assert.equal(envelope.stdout, "a");
    assert.equal(envelope.stderr, "b");
    assert.equal(envelope.exit_code, 3);
    assert.equal(typeof envelope.duration_ms, "number");
  });

  it("forwards piped stdin to the remote command", async () => {
    const r = await runCmdop(["connect", "exec", "db-primary", "--", "wc", "-c"], {
      env,
      stdin: "x".repeat(100_000),
    });
    assert.equal(r.stdout.trim(), "100000");
  });

  it("resolves a display name, a unique prefix and a full UUID", async () => {
    const names = { "Web One": "web-1", "db": "db-primary", "web-2": "web-2" };
    for (const [name, machine] of Object.entries(names)) {
      const r = await runCmdop(["connect", "exec", name, "--", "sh", "-c", MARKER], { env });
      assert.equal(r.code, 0, `${name}: ${r.stderr}`);
      assert.equal(r.stdout, `${machine}\n`, `"${name}" ran on ${machine}`);
    }
    const list = JSON.parse((await runCmdop(["connect", "--list", "--json"], { env })).stdout);
    const id = list.find((m: { hostname: string }) => m.hostname === "web-2").id;
    const r = await runCmdop(["connect", "exec", id.toUpperCase(), "--", "sh", "-c", MARKER], {
      env,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "web-2\n");
  });

  it("exits 4 and lists the candidates for an ambiguous name", async () => {
    const r = await runCmdop(["connect", "exec", "web", "--", "true"], { env });
    assert.equal(r.code, 4);
    assert.match(r.stderr, /matches 2 machines/);
    assert.match(r.stderr, /web-1/);
    assert.match(r.stderr, /web-2/);
  });

  it("never fuzzy-matches a UUID-shaped argument", async () => {
    const r = await runCmdop(
      ["connect", "exec", "00000000-0000-4000-8000-000000000000", "--", "true"],
      { env },
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no machine with id/);
  });

  it("exits 1 with a clear message when nothing matches", async () => {
    const r = await runCmdop(["connect", "exec", "nope", "--", "true"], { env });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /error: no machine matches "nope"/);
  });

  it("exits 3 for an offline machine", async () => {
    const r = await runCmdop(["connect", "exec", offlineId, "--", "true"], { env });
    assert.equal(r.code, 3);
    assert.match(r.stderr, /offline/);
  });

  it("exits 2 and names the credential's source when the key is wrong", async () => {
    const fromFlag = await runCmdop(["connect", "exec", "web-1", "-k", "cmk_wrong", "--", "true"], {
      env,
    });
    assert.equal(fromFlag.code, 2);
    assert.match(fromFlag.stderr, /--api-key flag/);
    const fromEnv = await runCmdop(["connect", "--list"], {
      env: { ...env, CMDOP_API_KEY: "cmk_wrong" },
    });
    assert.equal(fromEnv.code, 2);
    assert.match(fromEnv.stderr, /CMDOP_API_KEY environment variable/);
  });

  it("reports a missing command as exit 127", async () => {
    const r = await runCmdop(["connect", "exec", "web-1", "--", "no-such-command-xyz"], { env });
    assert.equal(r.code, 127);
    assert.match(r.stderr, /command not found: no-such-command-xyz/);
  });

  it("kills the remote process group on timeout and exits 1", async () => {
    const marker = await Deno.makeTempFile();
    const script = `sleep 300 & echo $! > ${marker}; sleep 300`;
    const r = await runCmdop([
      "connect",
      "exec",
      "web-1",
      "--timeout",
      "1",
      "--",
      "sh",
      "-c",
      script,
    ], {
      env,
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /timed out after 1s/);
    const pid = Number((await Deno.readTextFile(marker)).trim());
    assert.ok(pid > 0);
    assert.equal(await processAlive(pid), false, `background child ${pid} survived the timeout`);
  });

  it("rejects a malformed --timeout before contacting the relay", async () => {
    const r = await runCmdop(["connect", "exec", "web-1", "--timeout", "soon", "--", "true"], {
      env,
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--timeout "soon" is not a duration/);
  });

  it("lists machines as a table and as JSON, online only on request", async () => {
    const table = await runCmdop(["connect", "--list"], { env });
    assert.equal(table.code, 0);
    assert.match(table.stdout, /^NAME\s+HOSTNAME\s+ID\s+STATUS\s+LAST HEARTBEAT/);
    assert.match(table.stdout, /Web One\s+web-1\s+[0-9a-f-]{36}\s+online/);
    const online = JSON.parse(
      (await runCmdop(["connect", "--list", "--online", "--json"], { env })).stdout,
    );
    assert.deepEqual(online.map((m: { hostname: string }) => m.hostname).sort(), [
      "db-primary",
      "web-1",
      "web-2",
    ]);
  });

  it("keeps the agent's credential across restarts", async () => {
    const before = JSON.parse((await runCmdop(["connect", "--list", "--json"], { env })).stdout);
    await web1.stop();
    const again = await startAgent(relay.url, "cme_not-needed-any-more", {
      hostname: "web-1",
      stateDir: web1.stateDir,
    });
    const afterList = JSON.parse((await runCmdop(["connect", "--list", "--json"], { env })).stdout);
    assert.equal(afterList.length, before.length);
    const mode = (await Deno.stat(`${again.stateDir}/agent.json`)).mode! & 0o777;
    assert.equal(mode, 0o600);
  });
});
