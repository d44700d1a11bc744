import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { openSqliteStore } from "../store/sqlite.ts";
import { SqliteAuditStore } from "./audit_sqlite.ts";
import { checkAuditStore, sampleEvent } from "./_store_cases.ts";

describe("SqliteAuditStore", () => {
  it("lists a workspace's events oldest first, by time and machine, in pages", async () => {
    const store = await openSqliteStore(await Deno.makeTempDir());
    try {
      await checkAuditStore(new SqliteAuditStore(store.db));
    } finally {
      await store.close();
    }
  });

  it("refuses to update or delete an event, and keeps events over a reopen", async () => {
    const dir = await Deno.makeTempDir();
    const store = await openSqliteStore(dir);
    await new SqliteAuditStore(store.db).append(sampleEvent("ws", 5, "login"));
    assert.throws(() => store.db.exec("UPDATE audit_events SET kind = 'x'"), /append-only/);
    assert.throws(() => store.db.exec("DELETE FROM audit_events"), /append-only/);
    await store.close();
    const again = await openSqliteStore(dir);
    const listed = await new SqliteAuditStore(again.db).list({ sinceMs: 0, limit: 10 });
    await again.close();
    assert.deepEqual(listed.map((e) => e.kind), ["login"]);
  });
});
