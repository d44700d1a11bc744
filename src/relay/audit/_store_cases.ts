/** What every AuditStore must do, checked alike on SQLite (audit_sqlite_test.ts) and PostgreSQL (tests/cluster). */
import assert from "node:assert/strict";
import type { AuditStore, NewAuditEvent } from "./audit_events.ts";

/** An event of workspace `ws` at `timeMs`, on machine `m-<name>` unless `machine` is "". */
export function sampleEvent(
  ws: string,
  timeMs: number,
  kind: string,
  machine = "web-1",
): NewAuditEvent {
  return {
    workspaceId: ws,
    timeMs,
    kind,
    actorKind: "api_key",
    actorId: "0123456789ab",
    peer: "192.0.2.7",
    machineId: machine ? `m-${machine}` : "",
    machineName: machine,
    detail: { session_kind: "exec", argv: ["uname", "-a"], exit_code: 0, bytes_out: 12 },
  };
}

/**
 * Appends events of two workspaces and checks listing: oldest first, one workspace only,
 * `sinceMs`, a machine by id or hostname (ignoring case), pages that neither skip nor
 * repeat events of the same millisecond, and the operator's listing of every workspace.
 *
 * @example
 * ```ts
 * await checkAuditStore(new SqliteAuditStore(store.db));
 * ```
 */
export async function checkAuditStore(store: AuditStore): Promise<void> {
  await store.append(sampleEvent("ws-a", 1_000, "session.start"));
  await store.append(sampleEvent("ws-b", 1_500, "session.start", "db-1"));
  // Three in the same millisecond: pages must cut between them cleanly.
  await store.append(sampleEvent("ws-a", 2_000, "session.end"));
  await store.append(sampleEvent("ws-a", 2_000, "share.created", "db-1"));
  await store.append(sampleEvent("ws-a", 2_000, "login", ""));
  await store.append(sampleEvent("ws-a", 3_000, "share.revoked"));

  const all = await store.list({ workspaceId: "ws-a", sinceMs: 0, limit: 100 });
  assert.deepEqual(all.map((e) => e.kind), [
    "session.start",
    "session.end",
    "share.created",
    "login",
    "share.revoked",
  ]);
  assert.ok(all.every((e) => e.workspaceId === "ws-a"));
  assert.deepEqual(all[0].detail, sampleEvent("", 0, "").detail);
  assert.equal(all[0].peer, "192.0.2.7");
  assert.equal(all[0].machineId, "m-web-1");
  assert.equal(typeof all[0].seq, "number");
  assert.equal(all[0].timeMs, 1_000);

  const since = await store.list({ workspaceId: "ws-a", sinceMs: 2_000, limit: 100 });
  assert.deepEqual(since.map((e) => e.timeMs), [2_000, 2_000, 2_000, 3_000]);

  const byName = await store.list({ workspaceId: "ws-a", sinceMs: 0, machine: "DB-1", limit: 9 });
  assert.deepEqual(byName.map((e) => e.kind), ["share.created"]);
  const byId = await store.list({ workspaceId: "ws-a", sinceMs: 0, machine: "m-db-1", limit: 9 });
  assert.deepEqual(byId.map((e) => e.kind), ["share.created"]);

  const paged: string[] = [];
  let after: { timeMs: number; seq: number } | undefined;
  for (;;) {
    const page = await store.list({ workspaceId: "ws-a", sinceMs: 0, after, limit: 2 });
    paged.push(...page.map((e) => e.kind));
    if (page.length < 2) break;
    after = { timeMs: page[1].timeMs, seq: page[1].seq };
  }
  assert.deepEqual(paged, all.map((e) => e.kind));

  const everyone = await store.list({ sinceMs: 0, limit: 100 });
  assert.deepEqual(everyone.map((e) => e.workspaceId), [
    "ws-a",
    "ws-b",
    "ws-a",
    "ws-a",
    "ws-a",
    "ws-a",
  ]);
  const other = await store.list({ workspaceId: "ws-b", sinceMs: 0, limit: 100 });
  assert.deepEqual(other.map((e) => e.machineName), ["db-1"]);
}
