/** `buf curl` against the relay: reflection and grpc.health.v1, Connect and gRPC-Web for unary and streaming calls, and gRPC refused with a documented UNIMPLEMENTED. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { killAll, type RelayProcess, ROOT, startRelay, type Workspace } from "../_harness.ts";

/** `buf curl ARGS…` with buf from node_modules (pinned in deno.lock). */
async function bufCurl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--quiet",
      join(ROOT, "node_modules/@bufbuild/buf/bin/buf"),
      "curl",
      ...args,
    ],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

describe("the relay's Connect protocols with buf curl", () => {
  let relay: RelayProcess;
  let ws: Workspace;

  before(async () => {
    relay = await startRelay();
    ws = await relay.createWorkspace("curl");
  });
  after(async () => {
    await killAll();
  });

  it("lists its services and methods through gRPC reflection", async () => {
    const r = await bufCurl(["--list-methods", relay.url]);
    assert.equal(r.code, 0, r.stderr);
    const methods = r.stdout.trim().split("\n");
    for (
      const method of [
        "cmdop.v1.MachineService/ListMachines",
        "cmdop.v1.SessionService/Session",
        "grpc.health.v1.Health/Check",
        "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
      ]
    ) assert.ok(methods.includes(method), `${method} in:\n${r.stdout}`);
  });

  for (const protocol of ["connect", "grpcweb"]) {
    it(`${protocol}: a unary call answers, and a bad key is Unauthenticated`, async () => {
      const url = `${relay.url}/cmdop.v1.MachineService/ListMachines`;
      const ok = await bufCurl([
        "--protocol",
        protocol,
        "-H",
        `Authorization: Bearer ${ws.api_key}`,
        "-d",
        "{}",
        url,
      ]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(JSON.parse(ok.stdout).workspaceName, "curl");
      const bad = await bufCurl([
        "--protocol",
        protocol,
        "-H",
        "Authorization: Bearer cmk_wrong",
        "-d",
        "{}",
        url,
      ]);
      assert.notEqual(bad.code, 0);
      assert.match(bad.stdout + bad.stderr, /"code": "unauthenticated"[\s\S]*API key is not valid/);
    });

    it(`${protocol}: grpc.health.v1 answers SERVING, unary and streaming`, async () => {
      const check = await bufCurl([
        "--protocol",
        protocol,
        `${relay.url}/grpc.health.v1.Health/Check`,
      ]);
      assert.equal(check.code, 0, check.stderr);
      assert.deepEqual(JSON.parse(check.stdout), { status: "SERVING" });
      // Watch streams until the client leaves: its first message is the status.
      const watch = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "--quiet",
          join(ROOT, "node_modules/@bufbuild/buf/bin/buf"),
          "curl",
          "--protocol",
          protocol,
          `${relay.url}/grpc.health.v1.Health/Watch`,
        ],
        stdin: "null",
        stdout: "piped",
        stderr: "null",
      }).spawn();
      const reader = watch.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      while (!/\}\s*$/.test(text)) {
        const next = await reader.read();
        if (next.done) break;
        text += next.value;
      }
      watch.kill("SIGKILL");
      await watch.status;
      await reader.cancel().catch(() => {});
      assert.deepEqual(JSON.parse(text), { status: "SERVING" });
    });
  }

  it("refuses gRPC proper with UNIMPLEMENTED and the reason, not a missing trailer", async () => {
    const r = await bufCurl([
      "--protocol",
      "grpc",
      "--http2-prior-knowledge",
      // Reflection is refused over gRPC too: the schema comes from proto/.
      "--schema",
      "proto",
      "-H",
      `Authorization: Bearer ${ws.api_key}`,
      "-d",
      "{}",
      `${relay.url}/cmdop.v1.MachineService/ListMachines`,
    ]);
    assert.notEqual(r.code, 0);
    const error = JSON.parse(r.stdout || r.stderr);
    assert.equal(error.code, "unimplemented");
    assert.match(error.message, /does not serve the gRPC protocol.*Connect or gRPC-Web/);
  });
});
