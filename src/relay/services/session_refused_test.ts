import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { SessionInputSchema, SessionKind } from "../../../gen/cmdop/v1/session_pb.ts";
import { MEMORY_PEER, memoryRelay } from "../_memory_relay.ts";
import type { MemoryClients } from "../_memory_relay.ts";

/** Opens a session and reads it to its end; resolves the error it ended with. */
async function refusal(clients: MemoryClients, machineId: string, kind: SessionKind) {
  async function* inputs() {
    yield create(SessionInputSchema, {
      msg: { case: "open", value: { machineId, kind, argv: ["uptime"], rows: 24, cols: 80 } },
    });
    await new Promise(() => {}); // the client stays; the relay ends the call
  }
  try {
    for await (const _ of clients.sessions.session(inputs())) { /* the path probe */ }
  } catch (error) {
    return ConnectError.from(error);
  }
  assert.fail("the session was not refused");
}

describe("SessionService refusals in the audit log (in memory)", () => {
  it("records session.refused for an offline machine and a read-only link asking to run", async () => {
    await using relay = await memoryRelay();
    const acme = await relay.workspace("acme");
    const web = await acme.machine("web-1");
    const offline = await refusal(acme.clients, web.id, SessionKind.EXEC);
    assert.equal(Code[offline.code], Code[Code.FailedPrecondition]);
    assert.match(offline.rawMessage, /is offline/);

    const link = await acme.clients.shares.createShare({
      machineId: web.id,
      ttlHours: 1,
      readOnly: true,
    });
    const readOnly = await refusal(relay.clientsFor(link.token), web.id, SessionKind.EXEC);
    assert.equal(Code[readOnly.code], Code[Code.PermissionDenied]);

    await relay.deps.audit.flush();
    const { events } = await acme.clients.audit.listEvents({});
    const refused = events.filter((e) => e.kind === "session.refused").map((e) => ({
      actor: e.actorKind,
      peer: e.peer,
      machine: e.machineName,
      ...JSON.parse(e.detailJson),
    }));
    assert.equal(refused.length, 2, JSON.stringify(events.map((e) => e.kind)));
    assert.deepEqual(
      refused.map(({ actor, peer, machine, session_kind, argv, reason }) => ({
        actor,
        peer,
        machine,
        session_kind,
        argv,
        reason,
      })),
      [
        {
          actor: "api_key",
          peer: MEMORY_PEER,
          machine: "web-1",
          session_kind: "exec",
          argv: ["uptime"],
          reason: "machine is offline",
        },
        {
          actor: "share",
          peer: MEMORY_PEER,
          machine: "web-1",
          session_kind: "exec",
          argv: ["uptime"],
          reason: "a read-only share link",
        },
      ],
    );
    assert.ok(!events.some((e) => e.kind === "session.start"), "nothing reached an agent");
  });
});
