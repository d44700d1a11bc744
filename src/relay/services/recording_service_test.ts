/** RecordingService in memory: members list and read their workspace's recordings, newest first and within the retention; no one else sees one. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { OpenSessionSchema, SessionKind } from "../../../gen/cmdop/v1/session_pb.ts";
import { memoryRelay, type MemoryWorkspace } from "../_memory_relay.ts";
import type { MachineRecord } from "../store/store.ts";

/** A rejection with this code whose message matches. */
const refused = (code: Code, message: RegExp) => (error: unknown) => {
  assert.ok(error instanceof ConnectError, `expected a ConnectError, got ${error}`);
  assert.equal(Code[error.code], Code[code], error.rawMessage);
  assert.match(error.rawMessage, message);
  return true;
};

type Relay = Awaited<ReturnType<typeof memoryRelay>>;

/** Records an exec session on `machine` as the relay's splice would, and waits for its end. */
async function recordExec(
  relay: Relay,
  ws: MemoryWorkspace,
  machine: MachineRecord,
  output: string,
): Promise<string> {
  const id = crypto.randomUUID();
  const recording = relay.deps.recordings.begin(
    { kind: "workspace", workspaceId: ws.id, via: "api_key", keyId: "0123456789ab" },
    machine,
    create(OpenSessionSchema, { machineId: machine.id, kind: SessionKind.EXEC, argv: ["echo"] }),
    id,
  );
  recording.output(1, new TextEncoder().encode(output));
  recording.exit(0);
  recording.end();
  await relay.deps.recordings.flush();
  return id;
}

async function readAll(ws: MemoryWorkspace, id: string): Promise<string> {
  let text = "";
  for await (const message of ws.clients.recordings.readRecording({ id })) {
    text += new TextDecoder().decode(message.data);
  }
  return text;
}

describe("RecordingService (in memory)", () => {
  it("lists and reads a workspace's recordings for its members, newest first", async () => {
    await using relay = await memoryRelay();
    const acme = await relay.workspace("acme");
    const web = await acme.machine("web-1");
    const first = await recordExec(relay, acme, web, "one\n");
    relay.advance(1_000);
    const second = await recordExec(relay, acme, web, "two\n");
    const { recordings } = await acme.clients.recordings.listRecordings({});
    assert.deepEqual(recordings.map((r) => r.id), [second, first]);
    assert.equal(recordings[0].machineName, "web-1");
    assert.equal(recordings[0].actorKind, "api_key");
    assert.equal(recordings[0].exited, true);
    const [header, ...events] = (await readAll(acme, first)).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    assert.equal(header.version, 2);
    assert.equal(header.command, "echo");
    assert.deepEqual(events.map((e: unknown[]) => e.slice(1)), [["o", "one\n"], ["x", "0"]]);
    // Pages of one, newest first, with nothing skipped or repeated.
    const page = await acme.clients.recordings.listRecordings({ limit: 1 });
    const next = await acme.clients.recordings.listRecordings({
      limit: 1,
      pageToken: page.nextPageToken,
    });
    assert.deepEqual([...page.recordings, ...next.recordings].map((r) => r.id), [second, first]);
  });

  it("shows another workspace nothing, and answers it as for an id that does not exist", async () => {
    await using relay = await memoryRelay();
    const acme = await relay.workspace("acme");
    const other = await relay.workspace("other");
    const id = await recordExec(relay, acme, await acme.machine("web-1"), "secret output\n");
    assert.deepEqual((await other.clients.recordings.listRecordings({})).recordings, []);
    await assert.rejects(
      readAll(other, id),
      refused(Code.NotFound, new RegExp(`"${id}" not found`)),
    );
    const missing = crypto.randomUUID();
    await assert.rejects(
      readAll(other, missing),
      refused(Code.NotFound, new RegExp(`"${missing}" not found`)),
    );
    await assert.rejects(readAll(other, "../../etc/passwd"), refused(Code.NotFound, /not found/));
  });

  it("refuses share links, and forgets recordings past the retention", async () => {
    await using relay = await memoryRelay();
    const acme = await relay.workspace("acme");
    const web = await acme.machine("web-1");
    const id = await recordExec(relay, acme, web, "x\n");
    const { link } = await acme.clients.shares.createShare({ machineId: web.id, ttlHours: 0 });
    const viaLink = relay.clientsFor(link.slice(link.indexOf("/s/") + 3));
    await assert.rejects(
      viaLink.recordings.listRecordings({}),
      refused(Code.PermissionDenied, /a share link cannot list session recordings/),
    );
    relay.advance(31 * 24 * 3_600_000);
    assert.deepEqual((await acme.clients.recordings.listRecordings({})).recordings, []);
    await assert.rejects(readAll(acme, id), refused(Code.NotFound, /not found/));
  });
});
