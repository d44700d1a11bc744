/** Malformed and hostile requests get Connect errors from the relay, which keeps serving. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { AgentService } from "../../gen/cmdop/v1/agent_pb.ts";
import { SessionInputSchema, SessionKind, SessionService } from "../../gen/cmdop/v1/session_pb.ts";
import { AsyncQueue } from "../../src/lib/async_queue.ts";
import { createRelayTransport } from "../../src/lib/transport.ts";
import { killAll, type RelayProcess, startRelay, type Workspace } from "../_harness.ts";

/** A Connect streaming envelope: flags byte, big-endian length, message. */
function envelope(bytes: Uint8Array, flags = 0): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(5 + bytes.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, bytes.length);
  out.set(bytes, 5);
  return out;
}

describe("relay under malformed requests", () => {
  let relay: RelayProcess;
  let ws: Workspace;

  before(async () => {
    relay = await startRelay();
    ws = await relay.createWorkspace("hostile");
  });
  after(killAll);

  async function post(path: string, body: BodyInit, headers: Record<string, string> = {}) {
    const response = await fetch(`${relay.url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${ws.api_key}`, ...headers },
      body,
    });
    return { status: response.status, text: await response.text() };
  }

  it("answers a garbage unary body with a Connect error", async () => {
    const r = await post(
      "/cmdop.v1.MachineService/ListMachines",
      new Uint8Array([0xff, 0xff, 0x01]),
      {
        "content-type": "application/proto",
      },
    );
    // The client's bytes are at fault: invalid_argument (400), not the "internal" connect-es says.
    assert.equal(r.status, 400);
    assert.match(r.text, /"code":"invalid_argument","message":"parse binary: /);
  });

  it("answers an unknown content type with 415", async () => {
    const r = await post("/cmdop.v1.MachineService/ListMachines", "hello", {
      "content-type": "text/plain",
    });
    assert.equal(r.status, 415);
  });

  it("answers an unknown path with 404", async () => {
    const r = await post("/cmdop.v1.Nope/Nothing", "{}", { "content-type": "application/json" });
    assert.equal(r.status, 404);
  });

  it("answers a truncated stream envelope with a Connect error in the end-of-stream message", async () => {
    const r = await post(
      "/cmdop.v1.SessionService/Session",
      new Uint8Array([0, 0, 0, 0, 50, 1, 2]),
      { "content-type": "application/connect+proto" },
    );
    assert.equal(r.status, 200);
    assert.match(r.text, /"code":"invalid_argument"/);
  });

  it("rejects a session whose first frame is not open", async () => {
    const frame = toBinary(
      SessionInputSchema,
      create(SessionInputSchema, { msg: { case: "data", value: new Uint8Array([1]) } }),
    );
    const r = await post("/cmdop.v1.SessionService/Session", envelope(frame), {
      "content-type": "application/connect+proto",
    });
    assert.match(r.text, /first session frame must be open/);
  });

  it("rejects an exec session without a command", async () => {
    const sessions = createClient(
      SessionService,
      createRelayTransport({ baseUrl: relay.url, bearer: ws.api_key }),
    );
    const inputs = new AsyncQueue<ReturnType<typeof create<typeof SessionInputSchema>>>();
    inputs.push(create(SessionInputSchema, {
      msg: { case: "open", value: { machineId: crypto.randomUUID(), kind: SessionKind.EXEC } },
    }));
    await assert.rejects(async () => {
      for await (const _ of sessions.session(inputs)) { /* drain */ }
    }, /exec needs a command/);
  });

  it("rejects enrollment with a bad token or an oversized hostname", async () => {
    const agents = createClient(AgentService, createRelayTransport({ baseUrl: relay.url }));
    await assert.rejects(
      agents.enroll({ enrollToken: "cme_forged", hostname: "x" }),
      /enroll token is not valid/,
    );
    await assert.rejects(
      agents.enroll({ enrollToken: ws.enroll_token, hostname: "h".repeat(300) }),
      /hostname must be 1 to 255 characters/,
    );
  });

  it("rejects agent streams without a valid machine credential", async () => {
    const agents = createClient(
      AgentService,
      createRelayTransport({ baseUrl: relay.url, bearer: `cmm_${crypto.randomUUID()}.nope` }),
    );
    await assert.rejects(async () => {
      for await (const _ of agents.control({ hostname: "x" })) { /* drain */ }
    }, /machine credential is not valid/);
  });

  it("answers heartbeats: a forged credential and a body that is no heartbeat are refused, only failures logged", async () => {
    const agents = createClient(AgentService, createRelayTransport({ baseUrl: relay.url }));
    const enrolled = await agents.enroll({ enrollToken: ws.enroll_token, hostname: "beating" });
    const credential = enrolled.machineSecret; // cmm_<machine id>.<secret>
    const path = "/cmdop.v1.AgentService/Heartbeat";
    const beat = (bearer: string, body: Uint8Array<ArrayBuffer>) =>
      fetch(`${relay.url}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${bearer}`, "content-type": "application/proto" },
        body,
      });
    const logged = () => relay.stderr().split("\n").filter((l) => l.includes("Heartbeat")).length;
    const before = logged();

    const ok = await beat(credential, new Uint8Array([0x08, 0x2a])); // ping_time_ms = 42
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get("content-type"), "application/proto");
    assert.equal((await ok.arrayBuffer()).byteLength, 0, "the empty HeartbeatResponse");
    // The same through connect-es, as the agent sends it.
    const client = createClient(
      AgentService,
      createRelayTransport({ baseUrl: relay.url, bearer: credential }),
    );
    await client.heartbeat({ pingTimeMs: 7n });

    const forged = await beat(`cmm_${enrolled.machineId}.forged`, new Uint8Array([0x08, 0x01]));
    assert.equal(forged.status, 401);
    assert.match(await forged.text(), /"code":"unauthenticated"/);
    const garbage = await beat(credential, new Uint8Array([0xff, 0xff, 0x01]));
    assert.equal(garbage.status, 400);
    assert.match(await garbage.text(), /"code":"invalid_argument","message":"parse binary: /);
    const oversized = await beat(credential, new Uint8Array(65));
    assert.equal(oversized.status, 400);
    assert.match(await oversized.text(), /more than 64 bytes/);

    // Two answered, three refused: at 10,000 agents a line per answer would be 1,000 a second.
    await new Promise((r) => setTimeout(r, 200));
    const lines = relay.stderr().split("\n").filter((l) => l.includes("Heartbeat")).slice(
      -(logged() - before),
    );
    assert.equal(lines.filter((l) => /code=ok/.test(l)).length, 0, lines.join("\n"));
    assert.equal(lines.filter((l) => /rpc method=AgentService\/Heartbeat code=/.test(l)).length, 3);
  });

  it("keeps a keep-alive connection serving after a page is sent a body it does not read", async () => {
    const { hostname, port } = new URL(relay.url);
    const conn = await Deno.connect({ hostname, port: Number(port) });
    const text = new TextEncoder();
    const answers: string[] = [];
    try {
      // Head and body in one write: a relay that left the body unread answered it and hung up.
      const head = text.encode("POST /healthz HTTP/1.1\r\nhost: x\r\ncontent-length: 5000\r\n\r\n");
      const request = new Uint8Array(head.length + 5000);
      request.set(head);
      for (const bytes of [request, text.encode("GET /readyz HTTP/1.1\r\nhost: x\r\n\r\n")]) {
        await conn.write(bytes);
        // Read until the page's body is in (or the relay hangs up: null).
        let answer = "";
        const buffer = new Uint8Array(4096);
        while (!/\r\n\r\n\w+\n$/.test(answer)) {
          const n = await conn.read(buffer);
          if (n === null) break;
          answer += new TextDecoder().decode(buffer.subarray(0, n));
        }
        answers.push(answer);
      }
    } finally {
      conn.close();
    }
    assert.match(answers[0], /^HTTP\/1\.1 200[^]*\r\n\r\nok\n$/);
    assert.match(answers[1], /^HTTP\/1\.1 200[^]*\r\n\r\nready\n$/);
  });

  it("is still serving afterwards", async () => {
    const r = await fetch(`${relay.url}/healthz`);
    assert.equal(await r.text(), "ok\n");
    assert.doesNotMatch(relay.stderr(), /panic|uncaught/i);
  });
});
