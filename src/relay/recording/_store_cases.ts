/** What every RecordingStore must do, checked alike on SQLite (recording_sqlite_test.ts) and PostgreSQL (tests/cluster). */
import assert from "node:assert/strict";
import type { Store } from "../store/store.ts";
import type { RecordingRow, RecordingStore } from "./recording_store.ts";

/** A recording of workspace `ws` started at `startedMs` on machine `web-1` unless given. */
export function sampleRecording(
  ws: string,
  startedMs: number,
  machine = "web-1",
): RecordingRow {
  return {
    id: crypto.randomUUID(),
    workspaceId: ws,
    machineId: `m-${machine}`,
    machineName: machine,
    actorKind: "api_key",
    actorId: "0123456789ab",
    kind: "exec",
    argv: ["uname", "-a"],
    width: 80,
    height: 24,
    startedMs,
    endedMs: null,
    bytes: 0,
    outputBytes: 0,
    truncated: false,
    gapBytes: 0,
    exitCode: null,
  };
}

async function readAll(store: RecordingStore, row: RecordingRow): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const chunk of store.read(row)) parts.push(chunk);
  return new Uint8Array(parts.flatMap((p) => [...p]));
}

/**
 * Checks the workspace setting (off by default, per workspace), writing and reading a
 * recording's bytes in order (larger than one chunk), its completion, the listing (newest
 * first, one workspace, since, machine, pages), `get` refusing another workspace's
 * recording, and pruning by start time.
 *
 * @example
 * ```ts
 * await checkRecordingStore(store, await SqliteRecordingStore.open(store.db, dir, log));
 * ```
 */
export async function checkRecordingStore(store: Store, recordings: RecordingStore): Promise<void> {
  for (const id of ["ws-a", "ws-b"]) await store.insertWorkspace({ id, name: id, createdMs: 1 });
  assert.equal(await recordings.enabled("ws-a"), false);
  assert.equal(await recordings.setEnabled("ws-a", true), true);
  assert.equal(await recordings.enabled("ws-a"), true);
  assert.equal(await recordings.enabled("ws-b"), false);
  assert.equal(await recordings.setEnabled("no-such-workspace", true), false);

  const first = sampleRecording("ws-a", 1_000);
  const big = new Uint8Array(600 * 1024).map((_, i) => i % 251);
  const sink = await recordings.begin(first);
  await sink.write(new TextEncoder().encode('{"version":2}\n'));
  await sink.write(big);
  await sink.idle();
  await sink.write(new TextEncoder().encode('[1.0, "o", "end"]\n'));
  await sink.idle();
  const running = await recordings.get(first.id, "ws-a");
  assert.equal(running?.endedMs, null);
  await recordings.finish(first.id, {
    endedMs: 3_000,
    bytes: 14 + big.length + 18,
    outputBytes: 700_000,
    truncated: true,
    gapBytes: 5,
    exitCode: 3,
  });
  const done = (await recordings.get(first.id, "ws-a"))!;
  assert.deepEqual(
    [done.endedMs, done.bytes, done.outputBytes, done.truncated, done.gapBytes, done.exitCode],
    [3_000, 14 + big.length + 18, 700_000, true, 5, 3],
  );
  assert.deepEqual(done.argv, ["uname", "-a"]);
  const bytes = await readAll(recordings, done);
  assert.equal(bytes.length, 14 + big.length + 18);
  assert.deepEqual(bytes.subarray(14, 14 + big.length), big);
  for await (const chunk of recordings.read(done)) assert.ok(chunk.length <= 256 * 1024);

  // Another workspace's recording is no recording at all to this one.
  assert.equal(await recordings.get(first.id, "ws-b"), undefined);
  assert.equal((await recordings.get(first.id, undefined))?.id, first.id);

  const others = [
    sampleRecording("ws-b", 1_500, "db-1"),
    sampleRecording("ws-a", 2_000, "db-1"),
    sampleRecording("ws-a", 2_000, "web-1"),
    sampleRecording("ws-a", 2_000, "web-1"),
    sampleRecording("ws-a", 4_000, "WEB-1"),
  ];
  for (const row of others) await (await recordings.begin(row)).idle();
  const ids = (rows: RecordingRow[]) => rows.map((r) => r.id);
  const all = await recordings.list({ workspaceId: "ws-a", sinceMs: 0, limit: 100 });
  assert.deepEqual(all.map((r) => r.startedMs), [4_000, 2_000, 2_000, 2_000, 1_000]);
  assert.ok(all.every((r) => r.workspaceId === "ws-a"));
  const since = await recordings.list({ workspaceId: "ws-a", sinceMs: 2_000, limit: 100 });
  assert.equal(since.length, 4);
  const web = await recordings.list({
    workspaceId: "ws-a",
    sinceMs: 0,
    machine: "web-1",
    limit: 100,
  });
  assert.equal(web.length, 4);
  const byId = await recordings.list({
    workspaceId: "ws-a",
    sinceMs: 0,
    machine: "m-db-1",
    limit: 100,
  });
  assert.deepEqual(ids(byId), [others[1].id]);
  // Pages of two cut cleanly between recordings of the same millisecond.
  const paged: RecordingRow[] = [];
  let before: { startedMs: number; id: string } | undefined;
  for (;;) {
    const page = await recordings.list({ workspaceId: "ws-a", sinceMs: 0, before, limit: 2 });
    paged.push(...page);
    if (page.length < 2) break;
    before = { startedMs: page[1].startedMs, id: page[1].id };
  }
  assert.deepEqual(ids(paged), ids(all));
  const everyone = await recordings.list({ sinceMs: 0, limit: 100 });
  assert.equal(everyone.length, 6);

  assert.equal(await recordings.prune(2_000), 2);
  const left = await recordings.list({ sinceMs: 0, limit: 100 });
  assert.deepEqual(left.map((r) => r.startedMs), [4_000, 2_000, 2_000, 2_000]);
  assert.equal(await recordings.get(first.id, "ws-a"), undefined);
  assert.equal((await readAll(recordings, done)).length, 0);
}
