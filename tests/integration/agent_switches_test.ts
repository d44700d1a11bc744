/** An agent whose operator turned port forwarding and file copy off (`--no-port-forwarding`, `--no-file-copy`): both refused with the reason, exec and the other machines unaffected. */
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
  streamCli,
  waitFor,
} from "../_harness.ts";

describe("an agent with port forwarding and file copy turned off", () => {
  let relay: RelayProcess;
  let env: Record<string, string>;
  let scratch: string;

  before(async () => {
    relay = await startRelay();
    const ws = await relay.createWorkspace("switches");
    env = await clientEnv(relay.url, ws.api_key);
    scratch = await Deno.makeTempDir({ prefix: "cmdop-switches-" });
    await Promise.all([
      startAgent(relay.url, ws.enroll_token, {
        hostname: "locked-box",
        extraArgs: ["--no-port-forwarding", "--no-file-copy"],
      }),
      startAgent(relay.url, ws.enroll_token, { hostname: "open-box" }),
    ]);
  });
  after(async () => {
    await killAll();
    await Deno.remove(scratch, { recursive: true });
  });

  it("refuses a copy either way with the reason, and copies to a machine that allows it", async () => {
    const local = join(scratch, "a.txt");
    await Deno.writeTextFile(local, "payload\n");
    const reason = /file copy is turned off on this machine \(cmdop agent run --no-file-copy\)/;
    const send = await runCmdop(["connect", "cp", local, `locked-box:${scratch}/b.txt`], { env });
    assert.equal(send.code, 1, send.stderr);
    assert.match(send.stderr, reason);
    const fetch = await runCmdop(["connect", "cp", `locked-box:${local}`, join(scratch, "c.txt")], {
      env,
    });
    assert.equal(fetch.code, 1, fetch.stderr);
    assert.match(fetch.stderr, reason);
    await assert.rejects(Deno.stat(join(scratch, "b.txt")), Deno.errors.NotFound);
    await assert.rejects(Deno.stat(join(scratch, "c.txt")), Deno.errors.NotFound);
    const allowed = await runCmdop(["connect", "cp", local, `open-box:${scratch}/d.txt`], { env });
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.equal(await Deno.readTextFile(join(scratch, "d.txt")), "payload\n");
  });

  it("refuses each forwarded connection with the reason, and still runs commands", async () => {
    const server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const forward = streamCli(
      ["connect", "forward", "locked-box", `0:127.0.0.1:${server.addr.port}`, "--json"],
      env,
    );
    try {
      await waitFor("the forward to listen", () => forward.stdout().includes("\n"));
      const port = Number(JSON.parse(forward.stdout().split("\n")[0]).listen.split(":").pop());
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      // The connection is closed without a byte: the machine refused to carry it.
      const read = await conn.read(new Uint8Array(16)).catch(() => null);
      assert.equal(read, null);
      conn.close();
      await waitFor(
        "the forward to report the refusal",
        () =>
          /port forwarding is turned off on this machine \(cmdop agent run --no-port-forwarding\)/
            .test(forward.stderr()),
      );
    } finally {
      forward.child.kill("SIGINT");
      await forward.status;
      server.close();
    }
    const r = await runCmdop(["connect", "exec", "locked-box", "--", "echo", "still-runs"], {
      env,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "still-runs\n");
  });
});
