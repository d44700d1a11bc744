/** `cmdop mcp` driven by the MCP SDK's own client over stdio, sandboxed as `deno task cmdop` runs it, against a real relay and agents. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client";
// The SDK's types for this path sit beside it without the `.js` (see src/cli/mcp/sdk.ts).
// @ts-types="@modelcontextprotocol/sdk/client/stdio"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import {
  clientEnv,
  killAll,
  MACHINE_VARIABLE,
  type RelayProcess,
  ROOT,
  startAgent,
  startRelay,
  waitFor,
  waitMachineOnline,
  type Workspace,
} from "../_harness.ts";

const WRAPPER = join(ROOT, "scripts", "cmdop_client.sh");
/** The main server's --max-output: small, so a modest output is cut. */
const MAX_OUTPUT = 4096;

interface Envelope {
  machine: string;
  machine_id: string;
  stdout: string;
  stderr: string;
  exit_code: number | null;
  duration_ms: number;
  stdout_bytes: number;
  stderr_bytes: number;
  truncated: boolean;
  offline?: boolean;
  timed_out?: boolean;
  error?: string;
}

interface ToolResult {
  isError?: boolean;
  content: { type: string; text?: string }[];
  structuredContent?: Record<string, unknown>;
}

/** A client connected to one `cmdop mcp` process. */
interface Served {
  client: Client;
  /** Every message the server wrote, in order, as the transport read them. */
  wire: Record<string, unknown>[];
  call(name: string, args: Record<string, unknown>): Promise<ToolResult>;
  stderr(): string;
}

/** The text of a result, for messages and error checks. */
const textOf = (r: ToolResult) => r.content.map((c) => c.text ?? "").join("\n");

describe("cmdop mcp", () => {
  let relay: RelayProcess;
  let acme: Workspace;
  let env: Record<string, string>;
  const servers: Served[] = [];
  let full: Served;
  let readOnly: Served;
  let limited: Served;

  /** Starts `cmdop mcp FLAGS` through the client sandbox and connects the SDK's client to it. */
  async function serve(flags: string[]): Promise<Served> {
    const transport = new StdioClientTransport({
      command: "bash",
      args: [WRAPPER, "mcp", ...flags],
      env: { ...env, NO_COLOR: "1" },
      stderr: "pipe",
    });
    let stderr = "";
    transport.stderr?.on("data", (chunk: Uint8Array) => stderr += new TextDecoder().decode(chunk));
    const client = new Client({ name: "cmdop-test", version: "1.0.0" });
    await client.connect(transport);
    const wire: Record<string, unknown>[] = [];
    const deliver = transport.onmessage!;
    transport.onmessage = (message) => {
      wire.push(message as Record<string, unknown>);
      deliver(message);
    };
    const served: Served = {
      client,
      wire,
      call: async (name, args) =>
        await client.callTool({ name, arguments: args }, undefined, {
          timeout: 60_000,
        }) as ToolResult,
      stderr: () => stderr,
    };
    servers.push(served);
    return served;
  }

  before(async () => {
    relay = await startRelay();
    acme = await relay.createWorkspace("acme");
    env = await clientEnv(relay.url, acme.api_key);
    const agent = (hostname: string, ...labels: string[]) =>
      startAgent(relay.url, acme.enroll_token, { hostname, labels });
    const [, , , gone] = await Promise.all([
      agent("web-1", "role=web", "env=prod"),
      agent("web-2", "role=web"),
      agent("db-1", "role=db"),
      agent("gone-1", "role=web"),
    ]);
    await gone.stop();
    await waitMachineOnline(relay.url, acme.api_key, "gone-1", false);
    [full, readOnly, limited] = await Promise.all([
      serve(["--max-output", String(MAX_OUTPUT)]),
      serve(["--read-only"]),
      serve([
        "--allow-machine",
        "web-1",
        "--allow-label",
        "role=db",
        "--deny-command",
        "^rm\\b",
        "--deny-command",
        "shutdown",
      ]),
    ]);
  });

  after(async () => {
    await Promise.all(servers.map((s) => s.client.close().catch(() => {})));
    await killAll();
  });

  it("offers its tools with input schemas, and lists machines filtered by online and label", async () => {
    const { tools } = await full.client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), ["exec", "exec_many", "list_machines"]);
    const exec = tools.find((t) => t.name === "exec")!;
    assert.deepEqual(Object.keys(exec.inputSchema.properties ?? {}).sort(), [
      "argv",
      "command",
      "machine",
      "timeout_seconds",
    ]);
    assert.deepEqual(exec.inputSchema.required, ["machine"]);
    assert.ok(exec.outputSchema, "exec declares its output");

    const hostnames = async (args: Record<string, unknown>) => {
      const r = await full.call("list_machines", args);
      assert.ok(!r.isError, textOf(r));
      const machines = r.structuredContent!.machines as { hostname: string; online: boolean }[];
      return machines.map((m) => `${m.hostname}${m.online ? "" : " (offline)"}`);
    };
    assert.deepEqual(await hostnames({}), ["db-1", "gone-1 (offline)", "web-1", "web-2"]);
    assert.deepEqual(await hostnames({ online: true }), ["db-1", "web-1", "web-2"]);
    assert.deepEqual(await hostnames({ labels: ["role=web"] }), [
      "gone-1 (offline)",
      "web-1",
      "web-2",
    ]);
    assert.deepEqual(await hostnames({ labels: ["role=web", "env=prod"], online: true }), [
      "web-1",
    ]);

    const resource = await full.client.readResource({ uri: "cmdop://machines" });
    const [content] = resource.contents;
    assert.ok("text" in content, "the machine list is text");
    const listed = JSON.parse(content.text);
    assert.equal(listed.workspace, "acme");
    assert.equal(listed.machines.length, 4);
  });

  it("runs a command and returns stdout, stderr, the exit code and the duration", async () => {
    const r = await full.call("exec", {
      machine: "web-1",
      argv: ["sh", "-c", `echo "out $${MACHINE_VARIABLE}"; echo oops >&2; exit 3`],
    });
    assert.ok(!r.isError, textOf(r));
    const e = r.structuredContent as unknown as Envelope;
    assert.equal(e.machine, "web-1");
    assert.equal(e.stdout, "out web-1\n");
    assert.equal(e.stderr, "oops\n");
    assert.equal(e.exit_code, 3);
    assert.equal(e.truncated, false);
    assert.equal(typeof e.duration_ms, "number");
    assert.deepEqual(JSON.parse(textOf(r)), e, "the text is the same envelope");

    const shell = await full.call("exec", {
      machine: "db-1",
      command: `echo $${MACHINE_VARIABLE} | tr a-z A-Z`,
    });
    assert.ok(!shell.isError, textOf(shell));
    assert.equal((shell.structuredContent as unknown as Envelope).stdout, "DB-1\n");
    assert.equal((shell.structuredContent as unknown as Envelope).exit_code, 0);
  });

  it("reports progress while a command runs, and a timeout as a tool error", async () => {
    const progress: { progress: number; message?: string }[] = [];
    const slow = await full.client.callTool(
      { name: "exec", arguments: { machine: "web-1", command: "sleep 1.5; echo done" } },
      undefined,
      { onprogress: (p) => progress.push(p), timeout: 60_000 },
    ) as ToolResult;
    assert.equal((slow.structuredContent as unknown as Envelope).stdout, "done\n");
    assert.ok(progress.length >= 1, "at least one progress notification");
    assert.match(progress[0].message ?? "", /^web-1: running for \d+ s, 0 bytes of output$/);

    const r = await full.call("exec", {
      machine: "web-2",
      command: "echo started; sleep 30",
      timeout_seconds: 1,
    });
    assert.equal(r.isError, true);
    const e = r.structuredContent as unknown as Envelope;
    assert.equal(e.timed_out, true);
    assert.equal(e.exit_code, null);
    assert.equal(e.stdout, "started\n");
    assert.match(
      textOf(r),
      /^error: command timed out after 1s; the remote process group was killed/,
    );
  });

  it("ends the remote command when the client cancels the call", async () => {
    const seconds = `${40 + Math.floor(Math.random() * 1000) / 1000}`;
    const pids = async () => {
      const found = await new Deno.Command("pgrep", { args: ["-f", `^sleep ${seconds}$`] })
        .output();
      return new TextDecoder().decode(found.stdout).trim();
    };
    const cancel = new AbortController();
    const call = full.client.callTool(
      { name: "exec", arguments: { machine: "web-1", command: `exec sleep ${seconds}` } },
      undefined,
      { signal: cancel.signal, timeout: 60_000 },
    );
    const settled = call.then(() => "answered", (error: Error) => error.message);
    await waitFor("the remote sleep to start", async () => (await pids()) !== "");
    cancel.abort(new Error("enough"));
    assert.match(await settled, /enough/);
    await waitFor("the remote sleep to end", async () => (await pids()) === "", 15_000);
    const still = await full.call("exec", { machine: "web-1", argv: ["echo", "next"] });
    assert.equal((still.structuredContent as unknown as Envelope).stdout, "next\n");
  });

  it("answers an unknown or offline machine with a tool error and keeps serving", async () => {
    const unknown = await full.call("exec", { machine: "nope", argv: ["true"] });
    assert.equal(unknown.isError, true);
    assert.match(textOf(unknown), /no machine matches "nope"/);
    const offline = await full.call("exec", { machine: "gone-1", argv: ["true"] });
    assert.equal(offline.isError, true);
    assert.match(textOf(offline), /machine "gone-1" \(gone-1\) is offline/);
    const still = await full.call("exec", { machine: "web-2", argv: ["echo", "here"] });
    assert.equal((still.structuredContent as unknown as Envelope).stdout, "here\n");
  });

  it("cuts a big output in the middle, with a marker and the full size", async () => {
    const lines = 100_000;
    let expected = 0;
    for (let i = 1; i <= lines; i++) expected += String(i).length + 1;
    const r = await full.call("exec", { machine: "web-2", argv: ["seq", "1", String(lines)] });
    assert.ok(!r.isError, textOf(r));
    const e = r.structuredContent as unknown as Envelope;
    assert.equal(e.exit_code, 0);
    assert.equal(e.truncated, true);
    assert.equal(e.stdout_bytes, expected);
    assert.ok(e.stdout.startsWith("1\n2\n3\n"), e.stdout.slice(0, 40));
    assert.ok(e.stdout.endsWith(`${lines - 1}\n${lines}\n`), e.stdout.slice(-40));
    assert.match(
      e.stdout,
      new RegExp(
        `\\n\\[cmdop mcp: ${expected - MAX_OUTPUT} bytes cut here; the output was ${expected} ` +
          `bytes, the first ${MAX_OUTPUT / 2} and the last ${MAX_OUTPUT / 2} are kept\\]\\n`,
      ),
    );
    assert.ok(e.stdout.length < MAX_OUTPUT + 200, `${e.stdout.length} characters kept`);
  });

  it("runs on every machine a label selects, one envelope each, with progress", async () => {
    const progress: { progress: number; total?: number; message?: string }[] = [];
    const wireFrom = full.wire.length;
    const r = await full.client.callTool(
      {
        name: "exec_many",
        arguments: { labels: ["role=web"], command: `echo $${MACHINE_VARIABLE}; exit 0` },
      },
      undefined,
      { onprogress: (p) => progress.push(p), timeout: 60_000 },
    ) as ToolResult;
    assert.ok(!r.isError, textOf(r));
    const results = r.structuredContent!.results as Envelope[];
    assert.deepEqual(
      results.map((e) => [e.machine, e.stdout, e.exit_code, e.offline ?? false]),
      [["gone-1", "", null, true], ["web-1", "web-1\n", 0, false], ["web-2", "web-2\n", 0, false]],
    );
    assert.deepEqual(r.structuredContent!.summary, { machines: 3, ok: 2, failed: 0, offline: 1 });
    // What the server wrote: one report per machine, all before the result.
    const sent = full.wire.slice(wireFrom);
    const reports = sent.filter((m) => m.method === "notifications/progress")
      .map((m) => m.params as { progress: number; total?: number; message?: string });
    assert.deepEqual(reports.map((p) => [p.progress, p.total]), [[1, 3], [2, 3], [3, 3]]);
    assert.match(reports[0].message ?? "", /^gone-1: offline$/);
    const answer = sent.findIndex((m) => "result" in m);
    const lastReport = sent.findLastIndex((m) => m.method === "notifications/progress");
    assert.ok(lastReport < answer, "every progress report comes before the result");
    // The SDK's client hands a notification to its handler a turn later than a result, so a
    // report read in the same chunk as the result can be lost to it: what it got is a prefix.
    assert.deepEqual(progress.map((p) => p.progress), [1, 2, 3].slice(0, progress.length));

    const all = await full.call("exec_many", { all: true, argv: ["sh", "-c", "exit 2"] });
    const summary = all.structuredContent!.summary;
    assert.deepEqual(summary, { machines: 4, ok: 0, failed: 3, offline: 1 });
  });

  it("offers no exec tools when read-only, and refuses them by name", async () => {
    const { tools } = await readOnly.client.listTools();
    assert.deepEqual(tools.map((t) => t.name), ["list_machines"]);
    const r = await readOnly.call("exec", { machine: "web-1", argv: ["true"] });
    assert.equal(r.isError, true);
    assert.match(textOf(r), /Tool exec not found/);
    const listed = await readOnly.call("list_machines", { online: true });
    assert.equal((listed.structuredContent!.machines as unknown[]).length, 3);
  });

  it("reaches only the allowed machines and refuses denied command lines", async () => {
    const listed = await limited.call("list_machines", {});
    const names = (listed.structuredContent!.machines as { hostname: string }[])
      .map((m) => m.hostname);
    assert.deepEqual(names, ["db-1", "web-1"]);

    const outside = await limited.call("exec", { machine: "web-2", argv: ["true"] });
    assert.equal(outside.isError, true);
    assert.match(
      textOf(outside),
      /machine "web-2" is outside this server's limits \(--allow-machine web-1 --allow-label role=db\)/,
    );
    const denied = await limited.call("exec", { machine: "web-1", argv: ["rm", "-rf", "/tmp/x"] });
    assert.equal(denied.isError, true);
    assert.match(
      textOf(denied),
      /"rm -rf \/tmp\/x" is refused: it matches --deny-command "\^rm\\b"/,
    );
    const deniedMany = await limited.call("exec_many", { all: true, command: "sudo shutdown now" });
    assert.equal(deniedMany.isError, true);
    assert.match(textOf(deniedMany), /matches --deny-command "shutdown"/);

    const allowed = await limited.call("exec", { machine: "db-1", argv: ["echo", "rm -rf"] });
    assert.equal((allowed.structuredContent as unknown as Envelope).stdout, "rm -rf\n");
    const many = await limited.call("exec_many", { all: true, argv: ["true"] });
    const ran = (many.structuredContent!.results as Envelope[]).map((e) => e.machine);
    assert.deepEqual(ran, ["db-1", "web-1"]);
    const none = await limited.call("exec_many", {
      labels: ["role=web", "env=dev"],
      argv: ["true"],
    });
    assert.equal(none.isError, true);
    assert.match(
      textOf(none),
      /no machine with labels role=web, env=dev within this server's limits/,
    );
  });

  it("answers malformed calls with tool errors and keeps serving", async () => {
    const wrongType = await full.call("exec", { machine: 5, argv: ["true"] });
    assert.equal(wrongType.isError, true);
    assert.match(textOf(wrongType), /Input validation error: .*machine/s);
    const both = await full.call("exec", { machine: "web-1", argv: ["true"], command: "true" });
    assert.equal(both.isError, true);
    assert.match(textOf(both), /give argv or command, not both/);
    const neither = await full.call("exec", { machine: "web-1" });
    assert.match(textOf(neither), /no command given/);
    const noSelector = await full.call("exec_many", { argv: ["true"] });
    assert.match(textOf(noSelector), /give labels .* or all: true/);
    const badLabel = await full.call("list_machines", { labels: ["role"] });
    assert.equal(badLabel.isError, true);
    assert.match(textOf(badLabel), /label "role" is not key=value/);
    const unknownTool = await full.call("reboot_everything", {});
    assert.equal(unknownTool.isError, true);

    const after = await full.call("exec", { machine: "web-1", argv: ["echo", "still here"] });
    assert.equal((after.structuredContent as unknown as Envelope).stdout, "still here\n");
    assert.equal(full.stderr(), "", "nothing on stderr");
  });
});
