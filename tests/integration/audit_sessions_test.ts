/** The audit log of the session kinds beyond exec: a terminal (pty), a port forward and file copies each way, with their kind, target or path, exit status and bytes. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import {
  clientEnv,
  killAll,
  runCmdop,
  startAgent,
  startRelay,
  streamCli,
  waitFor,
} from "../_harness.ts";
import { SessionKind } from "../../gen/cmdop/v1/session_pb.ts";
import { silentContext } from "../_context.ts";
import { openRelayConnection } from "../../src/cli/relay_client.ts";
import { openSession } from "../../src/cli/session_client.ts";

/** One line of `cmdop connect audit --json`. */
interface Event {
  kind: string;
  actor_kind: string;
  peer: string;
  machine: string;
  detail: Record<string, unknown>;
}

describe("cmdop connect audit of terminals, forwards and copies", () => {
  let env: Record<string, string>;

  /** The end of the first session of `sessionKind`, once it is listed. */
  async function sessionEnd(sessionKind: string): Promise<{ start: Event; end: Event }> {
    let events: Event[] = [];
    const end = () =>
      events.find((e) => e.kind === "session.end" && e.detail.session_kind === sessionKind);
    await waitFor(`the ${sessionKind} session's end in the audit log`, async () => {
      const r = await runCmdop(["connect", "audit", "--json"], { env });
      assert.equal(r.code, 0, r.stderr);
      events = r.stdout.split("\n").filter((l) => l).map((l) => JSON.parse(l));
      return end() !== undefined;
    });
    const start = events.find((e) =>
      e.kind === "session.start" && e.detail.session_id === end()!.detail.session_id
    )!;
    return { start, end: end()! };
  }

  before(async () => {
    const relay = await startRelay();
    const ws = await relay.createWorkspace("acme");
    env = await clientEnv(relay.url, ws.api_key);
    await startAgent(relay.url, ws.enroll_token, { hostname: "term-box" });
  });

  after(killAll);

  it("records a terminal session's kind, the keystrokes' bytes in and the shell's exit status", async () => {
    const ctx = silentContext();
    const conn = await openRelayConnection(ctx, {}, {
      server: env.CMDOP_SERVER,
      serverSource: "test",
      credential: env.CMDOP_API_KEY,
      credentialSource: "test",
      kind: "api_key",
    });
    const { machines } = await conn.machines.listMachines({});
    // A pseudo-terminal session, as `cmdop connect term-box` opens from a terminal.
    const session = await openSession(
      conn,
      { machineId: machines[0].id, kind: SessionKind.PTY, rows: 24, cols: 80 },
      () => Promise.reject(new Error("no password here")),
      ctx.signal,
    );
    const input = new TextEncoder().encode("exit 5\n");
    await session.write(input);
    let code: number | undefined;
    for (let next = await session.frames.next(); !next.done; next = await session.frames.next()) {
      const msg = next.value.msg;
      if (msg.case === "output") session.consumed(msg.value.data.length);
      if (msg.case === "exit") {
        code = msg.value.code;
        break;
      }
    }
    session.close();
    assert.equal(code, 5);
    const { start, end } = await sessionEnd("pty");
    assert.equal(start.machine, "term-box");
    assert.equal(start.actor_kind, "api_key");
    assert.equal(start.detail.argv, undefined);
    assert.equal(end.detail.exit_code, 5);
    assert.equal(end.detail.bytes_in, input.length);
    assert.ok((end.detail.bytes_out as number) > 0, JSON.stringify(end));
  });

  it("records a forward's target and the bytes carried each way", async () => {
    // What the machine forwards to: a server that answers "pong" to what it reads.
    const server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const serving = (async () => {
      for await (const conn of server) {
        const buffer = new Uint8Array(16);
        await conn.read(buffer);
        await conn.write(new TextEncoder().encode("pong!"));
        conn.close();
      }
    })().catch(() => {});
    const target = `127.0.0.1:${server.addr.port}`;
    const cli = streamCli(["connect", "forward", "term-box", `0:${target}`, "--json"], env);
    await waitFor("the forward to listen", () => cli.stdout().includes("\n"));
    const port = Number(JSON.parse(cli.stdout().split("\n")[0]).listen.split(":").pop());
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(new TextEncoder().encode("ping"));
    const answer = new Uint8Array(16);
    const n = await conn.read(answer);
    assert.equal(new TextDecoder().decode(answer.subarray(0, n ?? 0)), "pong!");
    conn.close();
    const { start, end } = await sessionEnd("forward");
    cli.child.kill("SIGINT");
    await cli.status;
    server.close();
    await serving;
    assert.equal(start.detail.target, target);
    assert.equal(start.machine, "term-box");
    assert.equal(end.detail.bytes_in, 4);
    assert.equal(end.detail.bytes_out, 5);
  });

  it("records a copy each way with its remote path and the archive's bytes", async () => {
    const dir = await Deno.makeTempDir({ prefix: "cmdop-audit-cp-" });
    try {
      const payload = "x".repeat(10_000);
      await Deno.writeTextFile(`${dir}/up.txt`, payload);
      const up = await runCmdop(["connect", "cp", `${dir}/up.txt`, `term-box:${dir}/there.txt`], {
        env,
      });
      assert.equal(up.code, 0, up.stderr);
      const sent = await sessionEnd("file_send");
      assert.equal(sent.start.detail.path, `${dir}/there.txt`);
      assert.equal(sent.end.detail.exit_code, 0);
      // The archive: the file's bytes and its header.
      assert.ok((sent.end.detail.bytes_in as number) >= payload.length, JSON.stringify(sent.end));

      const down = await runCmdop(
        ["connect", "cp", `term-box:${dir}/there.txt`, `${dir}/back.txt`],
        {
          env,
        },
      );
      assert.equal(down.code, 0, down.stderr);
      assert.equal(await Deno.readTextFile(`${dir}/back.txt`), payload);
      const fetched = await sessionEnd("file_fetch");
      assert.equal(fetched.start.detail.path, `${dir}/there.txt`);
      assert.equal(fetched.start.machine, "term-box");
      assert.ok((fetched.end.detail.bytes_out as number) >= payload.length);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});
