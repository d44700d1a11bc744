/** A fake relay behind a share link that claims a known machine's UUID never receives the attach password stored for it. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { ListMachinesResponseSchema } from "../../gen/cmdop/v1/machine_pb.ts";
import { SessionOutputSchema } from "../../gen/cmdop/v1/session_pb.ts";
import {
  clientEnv,
  killAll,
  type RelayProcess,
  runCmdop,
  startAgent,
  startRelay,
  type Workspace,
} from "../_harness.ts";

const PASSWORD = "stored-attach-pw-7Q2";

/** One Connect streaming envelope: flags, big-endian length, payload. */
function envelope(flags: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + payload.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, payload.length);
  out.set(payload, 5);
  return out;
}

/**
 * A relay that answers ListMachines with the victim's machine (same UUID, same workspace
 * name, a password required) and opens every session with a password challenge, keeping
 * every byte any client sends it. Requests and their time are bounded: bodies are read
 * for at most 10 s per session.
 */
function fakeRelay(machine: { id: string; hostname: string }, workspaceName: string) {
  const received: Uint8Array[] = [];
  const paths: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = new URL(req.url).pathname;
    paths.push(path);
    if (path.endsWith("/cmdop.v1.MachineService/ListMachines")) {
      received.push(new Uint8Array(await req.arrayBuffer()));
      const answer = create(ListMachinesResponseSchema, {
        machines: [{ ...machine, displayName: machine.hostname, online: true, hasPassword: true }],
        workspaceId: crypto.randomUUID(),
        workspaceName,
      });
      return new Response(toBinary(ListMachinesResponseSchema, answer), {
        headers: { "content-type": "application/proto" },
      });
    }
    if (path.endsWith("/cmdop.v1.SessionService/Session") && req.body) {
      const reader = req.body.getReader();
      const reading = (async () => {
        for (;;) {
          const chunk = await reader.read();
          if (chunk.done) return;
          received.push(chunk.value);
        }
      })().catch(() => {});
      const challenge = create(SessionOutputSchema, {
        msg: { case: "challenge", value: { machineId: machine.id, reason: "password required" } },
      });
      const body = new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(envelope(0, toBinary(SessionOutputSchema, challenge)));
          let timer: ReturnType<typeof setTimeout> | undefined;
          await Promise.race([reading, new Promise((r) => timer = setTimeout(r, 10_000))]);
          clearTimeout(timer);
          controller.enqueue(envelope(2, new TextEncoder().encode("{}")));
          controller.close();
        },
      });
      return new Response(body, { headers: { "content-type": "application/connect+proto" } });
    }
    received.push(new Uint8Array(await req.arrayBuffer()));
    return new Response("not found", { status: 404 });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    paths,
    /** Everything clients sent, as one string (the password would appear verbatim in protobuf). */
    text: () => received.map((b) => new TextDecoder("latin1").decode(b)).join(""),
    stop: () => server.shutdown(),
  };
}

describe("a fake relay behind a share link", () => {
  let relay: RelayProcess;
  let acme: Workspace;
  let env: Record<string, string>;

  before(async () => {
    relay = await startRelay();
    acme = await relay.createWorkspace("acme");
    env = await clientEnv(relay.url, acme.api_key);
    await startAgent(relay.url, acme.enroll_token, { hostname: "vault-box", password: PASSWORD });
  });
  after(killAll);

  it("claiming a known machine's UUID never receives its stored password", async () => {
    const set = await runCmdop(["connect", "password", "set", "vault-box"], {
      env,
      stdin: PASSWORD + "\n",
    });
    assert.equal(set.code, 0, set.stderr);
    // The real relay gets it: the password is stored and works.
    const real = await runCmdop(
      ["connect", "exec", "vault-box", "--no-interactive", "--", "true"],
      {
        env,
      },
    );
    assert.equal(real.code, 0, real.stderr);
    const listed = await runCmdop(["connect", "--list", "--json"], { env });
    const victim = JSON.parse(listed.stdout).find((m: { hostname: string }) =>
      m.hostname === "vault-box"
    );

    const fake = fakeRelay({ id: victim.id, hostname: "vault-box" }, "acme");
    try {
      const link = `${fake.url}/s/cms_${"f".repeat(32)}`;
      const r = await runCmdop(["connect", "exec", link, "--no-interactive", "--", "true"], {
        env,
        timeoutMs: 30_000,
      });
      assert.ok(
        fake.paths.some((p) => p.endsWith("/Session")),
        `the CLI never opened a session on the fake relay: ${r.stderr}`,
      );
      assert.equal(fake.text().includes(PASSWORD), false, "the fake relay received the password");
      assert.notEqual(r.code, 0, r.stderr);
      assert.match(r.stderr, /requires an attach password/);
    } finally {
      await fake.stop();
    }
  });
});
