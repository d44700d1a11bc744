/** `cmdop mcp` driven by the MCP Inspector's CLI mode (`@modelcontextprotocol/inspector --cli`, installed from npm into .tools/), sandboxed as `deno task cmdop` runs it. */
import { after, before, describe, it } from "../_suite.ts";
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  clientEnv,
  killAll,
  MACHINE_VARIABLE,
  type RelayProcess,
  ROOT,
  startAgent,
  startRelay,
} from "../_harness.ts";

/** The Inspector release these tests were written against; npm installs it once into .tools/. */
const INSPECTOR = "@modelcontextprotocol/inspector@0.15.0";
const PREFIX = join(ROOT, ".tools", "mcp-inspector");
const BIN = join(PREFIX, "node_modules", ".bin", "mcp-inspector");
const WRAPPER = join(ROOT, "scripts", "cmdop_client.sh");

/** Installs the Inspector when it is not there; resolves why it cannot run, or undefined. */
async function installInspector(): Promise<string | undefined> {
  if (await Deno.stat(BIN).then(() => true, () => false)) return undefined;
  const npm = await new Deno.Command("npm", {
    args: ["install", "--prefix", PREFIX, "--no-audit", "--no-fund", "--loglevel=error", INSPECTOR],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output().catch((error) => ({ success: false, stderr: new TextEncoder().encode(`${error}`) }));
  if (npm.success) return undefined;
  const said = new TextDecoder().decode(npm.stderr).trim().split("\n").slice(-3).join(" ");
  return `npm install ${INSPECTOR} into ${PREFIX} failed: ${said}`;
}

const missing = await installInspector();
if (missing && Deno.env.get("CI") === "true") {
  test("the MCP Inspector installs from npm", () => {
    throw new Error(missing);
  });
} else if (missing) {
  console.error(`\n!! the MCP Inspector tests SKIPPED: ${missing}\n`);
}

describe("cmdop mcp under the MCP Inspector's CLI", { skip: missing }, () => {
  let relay: RelayProcess;
  let env: Record<string, string>;

  /** `mcp-inspector --cli` against `cmdop mcp`: its exit code and the JSON it printed. */
  async function inspect(args: string[]): Promise<{ code: number; json: unknown; stderr: string }> {
    const out = await new Deno.Command(BIN, {
      args: ["--cli", "bash", WRAPPER, "mcp", ...args],
      env: { ...env, NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(90_000),
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    const stderr = new TextDecoder().decode(out.stderr);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { code: out.code, json, stderr };
  }

  before(async () => {
    relay = await startRelay();
    const ws = await relay.createWorkspace("inspected");
    env = await clientEnv(relay.url, ws.api_key);
    await startAgent(relay.url, ws.enroll_token, { hostname: "seen-1", labels: ["role=web"] });
  });

  after(killAll);

  it("lists the tools, and calls list_machines and exec", async () => {
    const tools = await inspect(["--method", "tools/list"]);
    assert.equal(tools.code, 0, tools.stderr);
    const names = (tools.json as { tools: { name: string }[] }).tools.map((t) => t.name);
    assert.deepEqual(names.sort(), ["exec", "exec_many", "list_machines"]);

    const list = await inspect([
      "--method",
      "tools/call",
      "--tool-name",
      "list_machines",
      "--tool-arg",
      "online=true",
    ]);
    assert.equal(list.code, 0, list.stderr);
    const listed = (list.json as { structuredContent: { machines: { hostname: string }[] } })
      .structuredContent.machines.map((m) => m.hostname);
    assert.deepEqual(listed, ["seen-1"]);

    const exec = await inspect([
      "--method",
      "tools/call",
      "--tool-name",
      "exec",
      "--tool-arg",
      "machine=seen-1",
      "--tool-arg",
      `command=echo "$${MACHINE_VARIABLE}"; exit 3`,
    ]);
    assert.equal(exec.code, 0, exec.stderr);
    const envelope = (exec.json as { structuredContent: { stdout: string; exit_code: number } })
      .structuredContent;
    assert.deepEqual([envelope.stdout, envelope.exit_code], ["seen-1\n", 3]);
  });

  it("reports an unknown machine as a tool error", async () => {
    const r = await inspect([
      "--method",
      "tools/call",
      "--tool-name",
      "exec",
      "--tool-arg",
      "machine=nowhere-9",
      "--tool-arg",
      "command=true",
    ]);
    const result = r.json as { isError?: boolean; content?: { text: string }[] };
    assert.equal(result.isError, true, JSON.stringify(r.json) + r.stderr);
    assert.match(result.content?.[0].text ?? "", /nowhere-9/);
  });
});
