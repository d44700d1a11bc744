import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { openSqliteStore } from "./sqlite.ts";
import { ConflictError } from "./store.ts";
import { SQLITE_MIGRATIONS } from "./schema.ts";
import { createWorkspace } from "../workspace_admin.ts";
import { hashSecret } from "../../lib/secrets.ts";

describe("SqliteStore", () => {
  it("migrates a new database to the latest schema version", async () => {
    const dir = await Deno.makeTempDir();
    const store = await openSqliteStore(dir);
    await store.close();
    const db = new DatabaseSync(join(dir, "relay.db"));
    const version = (db.prepare("PRAGMA user_version").get() as { user_version: number })
      .user_version;
    const mode = (db.prepare("PRAGMA journal_mode").get() as { journal_mode: string })
      .journal_mode;
    db.close();
    assert.equal(version, SQLITE_MIGRATIONS.length);
    assert.equal(mode, "wal");
  });

  it("refuses a database from a newer cmdop instead of touching it", async () => {
    const dir = await Deno.makeTempDir();
    const db = new DatabaseSync(join(dir, "relay.db"));
    db.exec(`PRAGMA user_version = ${SQLITE_MIGRATIONS.length + 5}`);
    db.exec("CREATE TABLE future (x TEXT); INSERT INTO future VALUES ('kept')");
    db.close();
    const files = async () => (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
    const before = { files: await files(), bytes: await Deno.readFile(join(dir, "relay.db")) };
    await assert.rejects(openSqliteStore(dir), /is newer than this cmdop/);
    // Not touched: the same bytes (no migration, no switch to WAL) and no new file beside it.
    assert.deepEqual(await files(), before.files);
    assert.deepEqual(await Deno.readFile(join(dir, "relay.db")), before.bytes);
  });

  it("keeps the machine clients allowed before --reach existed, reaching every machine", async () => {
    const dir = await Deno.makeTempDir();
    const db = new DatabaseSync(join(dir, "relay.db"));
    const before = SQLITE_MIGRATIONS.findIndex((m) => m.includes("machine_clients")) + 1;
    for (const migration of SQLITE_MIGRATIONS.slice(0, before)) db.exec(migration);
    db.exec(`PRAGMA user_version = ${before}`);
    db.exec(`INSERT INTO workspaces (id, name, created_ms, machine_clients)
      VALUES ('w1', 'a', 1, '[{"role":"ci"}]')`);
    db.close();
    const store = await openSqliteStore(dir);
    assert.deepEqual(await store.machineClients("w1"), { allowFrom: [{ role: "ci" }], reach: [] });
    const setting = { allowFrom: [{ role: "ci" }], reach: [{ env: "staging" }] };
    assert.equal(await store.setMachineClients("w1", setting), true);
    assert.deepEqual(await store.machineClients("w1"), setting);
    await store.close();
  });

  it("stores only hashes of a workspace's secrets", async () => {
    const dir = await Deno.makeTempDir();
    const store = await openSqliteStore(dir);
    const created = await createWorkspace(store, "prod", 1);
    assert.equal(
      await store.workspaceIdByApiKey(await hashSecret(created.api_key)),
      created.workspace_id,
    );
    assert.equal(await store.workspaceIdByApiKey(created.api_key), undefined);
    await store.close();
    const raw = await Deno.readFile(join(dir, "relay.db"));
    const text = new TextDecoder("latin1").decode(raw);
    assert.equal(text.includes(created.api_key), false);
    assert.equal(text.includes(created.enroll_token), false);
  });

  it("rejects a duplicate workspace name with a ConflictError", async () => {
    const store = await openSqliteStore(await Deno.makeTempDir());
    await createWorkspace(store, "dup", 1);
    await assert.rejects(createWorkspace(store, "dup", 2), ConflictError);
    await assert.rejects(createWorkspace(store, "bad name!", 2), /is not valid/);
    await store.close();
  });

  it("revokes a share once and keeps its first revocation time", async () => {
    const store = await openSqliteStore(await Deno.makeTempDir());
    const ws = await createWorkspace(store, "s", 1);
    await store.insertMachine({
      id: "m1",
      workspaceId: ws.workspace_id,
      hostname: "h",
      displayName: "h",
      os: "linux",
      arch: "x86_64",
      agentVersion: "0",
      secretHash: "x",
      passwordHash: null,
      createdMs: 1,
      lastSeenMs: 0,
      labels: {},
    });
    await store.insertShare({
      id: "s1",
      workspaceId: ws.workspace_id,
      machineId: "m1",
      tokenHash: "t",
      createdMs: 1,
      expiresMs: 0,
      revokedMs: null,
      readOnly: true,
      owner: "api_key:3f9a0c21b7de",
    });
    const stored = await store.shareByToken("t");
    assert.equal(stored?.readOnly, true);
    assert.equal(stored?.owner, "api_key:3f9a0c21b7de");
    assert.equal(await store.revokeShare(ws.workspace_id, "s1", 10), true);
    assert.equal(await store.revokeShare(ws.workspace_id, "s1", 20), true);
    assert.equal((await store.shareByToken("t"))?.revokedMs, 10);
    assert.equal(await store.revokeShare("other-workspace", "s1", 30), false);
    await store.close();
  });

  it("keeps a machine's labels and replaces them with what its agent says next", async () => {
    const store = await openSqliteStore(await Deno.makeTempDir());
    const ws = await createWorkspace(store, "l", 1);
    const info = {
      hostname: "h",
      displayName: "h",
      os: "linux",
      arch: "x86_64",
      agentVersion: "0",
    };
    await store.insertMachine({
      ...info,
      id: "m1",
      workspaceId: ws.workspace_id,
      secretHash: "x",
      passwordHash: null,
      createdMs: 1,
      lastSeenMs: 0,
      labels: {},
    });
    assert.deepEqual((await store.machineById("m1"))?.labels, {});
    await store.updateMachineInfo("m1", { ...info, labels: { env: "prod", role: "web" } });
    assert.deepEqual((await store.machineById("m1"))?.labels, { env: "prod", role: "web" });
    await store.updateMachineInfo("m1", { ...info, labels: { env: "staging" } });
    assert.deepEqual((await store.listMachines(ws.workspace_id))[0].labels, { env: "staging" });
    await store.close();
  });
});
