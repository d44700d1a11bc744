/** Machines that reach machines: an agent's credential used by the CLI and `cmdop mcp`, allowed by label per workspace, sandboxed as `deno task cmdop` runs it. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client";
// The SDK's types for this path sit beside it without the `.js` (see src/cli/mcp/sdk.ts).
// @ts-types="@modelcontextprotocol/sdk/client/stdio"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import {
  type AgentProcess,
  clientEnv,
  type CmdopResult,
  killAll,
  MACHINE_VARIABLE,
  type RelayProcess,
  ROOT,
  runCmdop,
  startAgent,
  startRelay,
  type Workspace,
} from "../_harness.ts";

const WRAPPER = join(ROOT, "scripts", "cmdop_client.sh");
const ECHO_MARKER = ["--shell", "--", `echo "$${MACHINE_VARIABLE}"`];

describe("machines as clients", () => {
  let relay: RelayProcess;
  let acme: Workspace;
  let other: Workspace;
  /**
   * Agents by hostname: ci-1 (role=ci), build-1 (role=build), web-1 (env=prod), stage-1 and
   * stage-2 (env=staging) in acme; other-ci (role=ci) in other.
   */
  const agents: Record<string, AgentProcess> = {};
  /** A client environment with no credential of its own. */
  let env: Record<string, string>;

  const stateFile = (hostname: string) => join(agents[hostname].stateDir, "agent.json");

  /** The client, sandboxed, acting as `hostname` through CMDOP_MACHINE_CREDENTIAL. */
  async function asMachine(hostname: string, args: string[]): Promise<CmdopResult> {
    const child = new Deno.Command("bash", {
      args: [WRAPPER, ...args],
      env: { ...env, NO_COLOR: "1", CMDOP_MACHINE_CREDENTIAL: stateFile(hostname) },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const { code, stdout, stderr } = await child;
    const decoder = new TextDecoder();
    return {
      code,
      stdout: decoder.decode(stdout),
      stderr: decoder.decode(stderr),
      stdoutBytes: stdout,
    };
  }

  async function machineClients(workspace: string, ...args: string[]): Promise<void> {
    const r = await runCmdop([
      "relay",
      "workspace",
      "machine-clients",
      ...args.slice(0, 1),
      workspace,
      ...args.slice(1),
      "--data",
      relay.dataDir,
    ]);
    assert.equal(r.code, 0, r.stderr);
  }

  before(async () => {
    relay = await startRelay();
    [acme, other] = await Promise.all([
      relay.createWorkspace("acme"),
      relay.createWorkspace("other"),
    ]);
    env = await clientEnv(relay.url);
    const started = await Promise.all([
      startAgent(relay.url, acme.enroll_token, { hostname: "ci-1", labels: ["role=ci"] }),
      startAgent(relay.url, acme.enroll_token, { hostname: "build-1", labels: ["role=build"] }),
      startAgent(relay.url, acme.enroll_token, {
        hostname: "web-1",
        labels: ["role=web", "env=prod"],
      }),
      startAgent(relay.url, acme.enroll_token, { hostname: "stage-1", labels: ["env=staging"] }),
      startAgent(relay.url, acme.enroll_token, { hostname: "stage-2", labels: ["env=staging"] }),
      startAgent(relay.url, other.enroll_token, { hostname: "other-ci", labels: ["role=ci"] }),
    ]);
    for (const agent of started) agents[agent.marker] = agent;
  });

  after(killAll);

  it("is refused by default, naming the workspace setting, with exit code 2", async () => {
    const r = await asMachine("ci-1", ["connect", "exec", "web-1", ...ECHO_MARKER]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /machine "ci-1" may not act as a client of workspace "acme"/);
    assert.match(r.stderr, /cmdop relay workspace machine-clients set acme --allow-from/);
    assert.equal(r.stdout, "");
  });

  it("once allowed by label, runs a command on another machine of its workspace, logged as itself", async () => {
    await machineClients("acme", "set", "--allow-from", "role=ci");
    const r = await asMachine("ci-1", ["connect", "exec", "web-1", ...ECHO_MARKER]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "web-1\n");
    const ciId = JSON.parse(await Deno.readTextFile(stateFile("ci-1"))).machine_id;
    assert.match(
      relay.stderr(),
      new RegExp(`exec on \\S+ \\(web-1\\) by machine ${ciId} \\(ci-1\\)`),
    );
    // Reaching itself is what its own user can do anyway.
    const self = await asMachine("ci-1", ["connect", "exec", "ci-1", ...ECHO_MARKER]);
    assert.equal(self.stdout, "ci-1\n", self.stderr);
    const list = await asMachine("ci-1", ["connect", "--list", "--json"]);
    assert.equal(list.code, 0, list.stderr);
    const names = (JSON.parse(list.stdout) as { hostname: string }[]).map((m) => m.hostname);
    assert.deepEqual(names.sort(), ["build-1", "ci-1", "stage-1", "stage-2", "web-1"]);
  });

  it("is refused when its labels match no selector, and may not manage the workspace", async () => {
    const r = await asMachine("build-1", ["connect", "exec", "web-1", ...ECHO_MARKER]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /its labels \(role=build\) match none/);
    const keys = await asMachine("ci-1", ["connect", "key", "list"]);
    assert.equal(keys.code, 2, keys.stderr);
    assert.match(keys.stderr, /a machine credential cannot list API keys/);
  });

  it("never reaches a machine of another workspace, even one allowing the same labels", async () => {
    await machineClients("other", "set", "--allow-from", "role=ci");
    const list = await asMachine("other-ci", ["connect", "--list", "--json"]);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual((JSON.parse(list.stdout) as { hostname: string }[]).map((m) => m.hostname), [
      "other-ci",
    ]);
    const webId = JSON.parse(await Deno.readTextFile(stateFile("web-1"))).machine_id;
    for (const host of ["web-1", webId]) {
      const r = await asMachine("other-ci", ["connect", "exec", host, ...ECHO_MARKER]);
      assert.notEqual(r.code, 0);
      assert.doesNotMatch(r.stdout, /web-1/);
      assert.match(r.stderr, /not found|no machine/i);
    }
  });

  it("refuses a forged or garbled credential", async () => {
    const state = JSON.parse(await Deno.readTextFile(stateFile("ci-1")));
    const dir = await Deno.makeTempDir();
    const forged = join(dir, "forged.json");
    await Deno.writeTextFile(
      forged,
      JSON.stringify({ ...state, credential: state.credential.replace(/\..*$/, ".guessed") }),
    );
    const garbled = join(dir, "garbled.json");
    await Deno.writeTextFile(garbled, `{"server": "${relay.url}", "credential": "cmm_x`);
    const args = ["connect", "exec", "web-1", "--machine-credential"];
    const r = await runCmdop([...args, forged, ...ECHO_MARKER], { env });
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /machine credential is not valid \(credential from machine credential in/,
    );
    const g = await runCmdop([...args, garbled, ...ECHO_MARKER], { env });
    assert.equal(g.code, 2, g.stderr);
    assert.match(g.stderr, /machine credential file ".*garbled.json" is not JSON/);
    assert.doesNotMatch(g.stderr, /cmm_x/);
  });

  it("serves cmdop mcp with the machine's credential", async () => {
    const transport = new StdioClientTransport({
      command: "bash",
      args: [WRAPPER, "mcp"],
      env: { ...env, NO_COLOR: "1", CMDOP_MACHINE_CREDENTIAL: stateFile("ci-1") },
      stderr: "pipe",
    });
    const client = new Client({ name: "cmdop-test", version: "1.0.0" });
    await client.connect(transport);
    try {
      const result = await client.callTool({
        name: "exec",
        arguments: { machine: "web-1", command: `echo "$${MACHINE_VARIABLE}"` },
      }) as { isError?: boolean; structuredContent?: { stdout: string; exit_code: number } };
      assert.ok(!result.isError, JSON.stringify(result));
      assert.equal(result.structuredContent?.stdout, "web-1\n");
      assert.equal(result.structuredContent?.exit_code, 0);
    } finally {
      await client.close();
    }
  });

  it("with --reach, lists, runs on and reaches only the machines it matches", async () => {
    await machineClients(
      "acme",
      "set",
      "--allow-from",
      "role=ci",
      "--reach",
      "env=staging",
    );
    const show = await runCmdop([
      "relay",
      "workspace",
      "machine-clients",
      "show",
      "acme",
      "--json",
      "--data",
      relay.dataDir,
    ]);
    assert.equal(show.code, 0, show.stderr);
    assert.deepEqual(JSON.parse(show.stdout), {
      workspace: "acme",
      allow_from: ["role=ci"],
      reach: ["env=staging"],
    });
    const hostnames = async () => {
      const list = await asMachine("ci-1", ["connect", "--list", "--json"]);
      assert.equal(list.code, 0, list.stderr);
      return (JSON.parse(list.stdout) as { hostname: string }[]).map((m) => m.hostname).sort();
    };
    assert.deepEqual(await hostnames(), ["stage-1", "stage-2"]);
    const staging = await asMachine("ci-1", ["connect", "exec", "stage-1", ...ECHO_MARKER]);
    assert.equal(staging.code, 0, staging.stderr);
    assert.equal(staging.stdout, "stage-1\n");

    // A machine out of reach, by name or id, and the caller itself (not env=staging), are
    // refused exactly as a machine that does not exist.
    const refusedAs = async (host: string, unknown: string) => {
      const r = await asMachine("ci-1", ["connect", "exec", host, ...ECHO_MARKER]);
      const u = await asMachine("ci-1", ["connect", "exec", unknown, ...ECHO_MARKER]);
      assert.notEqual(u.code, 0, u.stderr);
      assert.equal(r.code, u.code, r.stderr);
      assert.equal(r.stdout, "");
      assert.equal(r.stderr, u.stderr.replaceAll(unknown, host));
    };
    await refusedAs("web-1", "no-such-machine");
    await refusedAs("ci-1", "no-such-machine");
    const webId = JSON.parse(await Deno.readTextFile(stateFile("web-1"))).machine_id;
    await refusedAs(webId, crypto.randomUUID());

    const all = await asMachine("ci-1", ["connect", "exec", "--all", "--json", ...ECHO_MARKER]);
    assert.equal(all.code, 0, all.stderr);
    const ran = all.stdout.trim().split("\n").map((line) => JSON.parse(line).stdout).sort();
    assert.deepEqual(ran, ["stage-1\n", "stage-2\n"]);

    // Set again without --reach: every machine of the workspace is reachable again.
    await machineClients("acme", "set", "--allow-from", "role=ci");
    assert.deepEqual(await hostnames(), ["build-1", "ci-1", "stage-1", "stage-2", "web-1"]);
    const web = await asMachine("ci-1", ["connect", "exec", "web-1", ...ECHO_MARKER]);
    assert.equal(web.stdout, "web-1\n", web.stderr);
  });

  it("is refused again on the next call once the setting is cleared", async () => {
    await machineClients("acme", "clear");
    const r = await asMachine("ci-1", ["connect", "exec", "web-1", ...ECHO_MARKER]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /lets no machine act as a client/);
    assert.equal(r.stdout, "");
  });
});
