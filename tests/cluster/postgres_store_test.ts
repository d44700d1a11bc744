/** PostgresStore and PostgresPresence against a real PostgreSQL: migrations, store rules, presence leases. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import postgres, { type Sql } from "postgres";
import { hashSecret } from "../../src/lib/secrets.ts";
import { openPostgresStore, type PostgresStore } from "../../src/relay/store/postgres.ts";
import { PostgresPresence } from "../../src/relay/store/postgres_presence.ts";
import { POSTGRES_MIGRATIONS } from "../../src/relay/store/schema.ts";
import {
  ConflictError,
  type MachineClientsSetting,
  type MachineRecord,
} from "../../src/relay/store/store.ts";
import { createWorkspace } from "../../src/relay/workspace_admin.ts";
import { clusterSkipReason, createDatabase } from "./_cluster.ts";
import { type ServiceProcess, startPostgres } from "./_services.ts";

const skip = await clusterSkipReason("PostgresStore and PostgresPresence");

function machine(id: string, workspaceId: string): MachineRecord {
  return {
    id,
    workspaceId,
    hostname: `host-${id}`,
    displayName: `host-${id}`,
    os: "linux",
    arch: "x86_64",
    agentVersion: "0",
    secretHash: "x",
    passwordHash: null,
    createdMs: 1,
    lastSeenMs: 0,
    labels: { env: "test" },
  };
}

describe("PostgresStore", { skip }, () => {
  let pg: ServiceProcess;
  let databases = 0;
  const fresh = () => createDatabase(pg.url, `store_${databases++}`);

  before(async () => {
    pg = await startPostgres();
  });
  after(async () => {
    await pg?.stop();
  });

  it("migrates once when several nodes start together", async () => {
    const url = await fresh();
    const stores = await Promise.all([1, 2, 3, 4].map(() => openPostgresStore(url)));
    const [{ versions }] = await stores[0]
      .sql`SELECT array_agg(version ORDER BY version) AS versions
      FROM cmdop_schema`;
    assert.deepEqual(versions, POSTGRES_MIGRATIONS.map((_, i) => i + 1));
    await Promise.all(stores.map((s) => s.close()));
  });

  it("of 20 machines inserted at once under one name from two nodes, exactly one is kept", async () => {
    const url = await fresh();
    const nodes = [await openPostgresStore(url), await openPostgresStore(url)];
    const ws = await createWorkspace(nodes[0], "race", 1);
    const others = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        nodes[i % 2].insertMachine({
          ...machine(`r${i}`, ws.workspace_id),
          hostname: i % 3 ? "race-box" : "RACE-BOX",
          displayName: "race-box",
        })),
    );
    assert.equal(others.filter((o) => o === undefined).length, 1);
    assert.equal((await nodes[1].listMachines(ws.workspace_id)).length, 1);
    // A rename onto the name is refused the same way; keeping one's own name is not.
    await nodes[0].insertMachine({ ...machine("z", ws.workspace_id) });
    const z = (await nodes[0].machineById("z"))!;
    assert.notEqual(
      await nodes[1].updateMachineInfo("z", { ...z, displayName: "Race-Box" }),
      undefined,
    );
    assert.equal(await nodes[1].updateMachineInfo("z", { ...z, os: "darwin" }), undefined);
    assert.deepEqual(z.labels, { env: "test" });
    await nodes[1].updateMachineInfo("z", { ...z, labels: { env: "prod", role: "web" } });
    assert.deepEqual((await nodes[0].machineById("z"))!.labels, { env: "prod", role: "web" });
    await Promise.all(nodes.map((n) => n.close()));
  });

  it("refuses a database from a newer cmdop", async () => {
    const url = await fresh();
    const store = await openPostgresStore(url);
    await store.sql`INSERT INTO cmdop_schema (version, applied_ms)
      VALUES (${POSTGRES_MIGRATIONS.length + 5}, 0)`;
    await store.close();
    await assert.rejects(openPostgresStore(url), /is newer than this cmdop/);
  });

  it("keeps the store's rules: unique names, hashed secrets, first revocation wins", async () => {
    const store = await openPostgresStore(await fresh());
    const ws = await createWorkspace(store, "prod", 1);
    await assert.rejects(createWorkspace(store, "prod", 2), ConflictError);
    assert.equal(await store.workspaceIdByApiKey(await hashSecret(ws.api_key)), ws.workspace_id);
    assert.equal(await store.workspaceIdByApiKey(ws.api_key), undefined);
    assert.equal((await store.workspaceByName("prod"))?.id, ws.workspace_id);

    await store.insertMachine(machine("m1", ws.workspace_id));
    await store.touchMachines(["m1"], 1_700_000_000_000);
    await store.setMachinePassword("m1", "bcrypt");
    const m1 = await store.machineById("m1");
    assert.equal(m1?.lastSeenMs, 1_700_000_000_000);
    assert.equal(m1?.passwordHash, "bcrypt");
    await store.insertMachineToken({ tokenHash: "t1", machineId: "m1", expiresMs: 5 });
    assert.deepEqual(await store.machineToken("t1"), {
      tokenHash: "t1",
      machineId: "m1",
      expiresMs: 5,
    });

    await store.insertShare({
      id: "s1",
      workspaceId: ws.workspace_id,
      machineId: "m1",
      tokenHash: "st",
      createdMs: 1,
      expiresMs: 0,
      revokedMs: null,
      readOnly: true,
      owner: "api_key:3f9a0c21b7de",
    });
    const stored = await store.shareByToken("st");
    assert.equal(stored?.readOnly, true);
    assert.equal(stored?.owner, "api_key:3f9a0c21b7de");
    assert.equal(await store.revokeShare(ws.workspace_id, "s1", 10), true);
    assert.equal(await store.revokeShare(ws.workspace_id, "s1", 20), true);
    assert.equal((await store.shareByToken("st"))?.revokedMs, 10);
    assert.equal(await store.revokeShare("other-workspace", "s1", 30), false);
    assert.equal((await store.listShares(ws.workspace_id)).length, 1);
    await store.close();
  });

  it("keeps each workspace's machine-clients setting, none by default, seen by every node", async () => {
    const url = await fresh();
    const nodes = [await openPostgresStore(url), await openPostgresStore(url)];
    const [a, b] = [
      await createWorkspace(nodes[0], "a", 1),
      await createWorkspace(nodes[0], "b", 1),
    ];
    const none = { allowFrom: [], reach: [] };
    assert.deepEqual(await nodes[1].machineClients(a.workspace_id), none);
    const setting: MachineClientsSetting = {
      allowFrom: [{ role: "ci" }, { env: "build", team: "infra" }],
      reach: [{ env: "staging" }, { role: "cache", team: "infra" }],
    };
    assert.equal(await nodes[0].setMachineClients(a.workspace_id, setting), true);
    assert.deepEqual(await nodes[1].machineClients(a.workspace_id), setting);
    assert.deepEqual(await nodes[1].machineClients(b.workspace_id), none);
    assert.equal(await nodes[1].setMachineClients("no-such-workspace", setting), false);
    // Set again without --reach: the whole setting is replaced, reach included.
    const everywhere = { allowFrom: [{ role: "ci" }], reach: [] };
    await nodes[1].setMachineClients(a.workspace_id, everywhere);
    assert.deepEqual(await nodes[0].machineClients(a.workspace_id), everywhere);
    await nodes[1].setMachineClients(a.workspace_id, none);
    assert.deepEqual(await nodes[0].machineClients(a.workspace_id), none);
    await Promise.all(nodes.map((n) => n.close()));
  });

  it("keeps the machine clients allowed before --reach existed, reaching every machine", async () => {
    const url = await fresh();
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    await sql`CREATE TABLE cmdop_schema (version INTEGER PRIMARY KEY, applied_ms BIGINT NOT NULL)`;
    // Every migration up to the one that added machine_clients, then a workspace allowing role=ci.
    const before = POSTGRES_MIGRATIONS.findIndex((m) => m.includes("machine_clients")) + 1;
    for (const [i, migration] of POSTGRES_MIGRATIONS.slice(0, before).entries()) {
      await sql.unsafe(migration).simple();
      await sql`INSERT INTO cmdop_schema VALUES (${i + 1}, 0)`;
    }
    await sql`INSERT INTO workspaces (id, name, created_ms, machine_clients)
      VALUES ('w1', 'a', 1, '[{"role":"ci"}]')`;
    await sql.end();
    const upgraded = await openPostgresStore(url);
    assert.deepEqual(await upgraded.machineClients("w1"), {
      allowFrom: [{ role: "ci" }],
      reach: [],
    });
    await upgraded.close();
  });
});

describe("PostgresPresence", { skip }, () => {
  let pg: ServiceProcess;
  let store: PostgresStore;
  let workspaceId: string;

  const presenceOn = (sql: Sql, leaseMs = 1_000) =>
    new PostgresPresence({
      sql,
      instanceId: crypto.randomUUID(),
      nodeId: "test",
      leaseMs,
      now: Date.now,
      log: () => {},
    });

  before(async () => {
    pg = await startPostgres();
    store = await openPostgresStore(await createDatabase(pg.url, "presence"));
    workspaceId = (await createWorkspace(store, "p", 1)).workspace_id;
    for (const id of ["a", "b", "c"]) await store.insertMachine(machine(id, workspaceId));
  });
  after(async () => {
    await store?.close();
    await pg?.stop();
  });

  /** Presence writes are asynchronous: poll until a lookup agrees. */
  async function until(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<number> {
    const started = Date.now();
    while (!(await check())) {
      if (Date.now() - started > timeoutMs) throw new Error("presence never changed");
      await new Promise((r) => setTimeout(r, 50));
    }
    return Date.now() - started;
  }

  it("shows a node's agents to every node, and drops them once its lease runs out", async () => {
    const url = await createDatabase(pg.url, "lease");
    const dying = await openPostgresStore(url);
    const watcherStore = await openPostgresStore(url);
    const ws = await createWorkspace(watcherStore, "lease", 1);
    await watcherStore.insertMachine(machine("x", ws.workspace_id));
    const node = presenceOn(dying.sql, 1_000);
    const watcher = presenceOn(watcherStore.sql);
    await node.start();
    node.claim("x", "link-1", Date.now());
    await until(async () => (await watcher.lookup(["x"])).has("x"));
    // The node loses its database (or dies): nobody renews its lease any more.
    await dying.sql.end({ timeout: 0 });
    const gone = await until(async () => !(await watcher.lookup(["x"])).has("x"), 20_000);
    // The lease, not a 20 s wait, ends it: a margin that holds on a machine 4x slower.
    assert.ok(gone <= 4_000, `offline after ${gone} ms, lease 1000 ms`);
    await node.close();
    await watcherStore.close();
  });

  it("lets a newer claim survive the release of an older connection", async () => {
    const first = presenceOn(store.sql);
    const second = presenceOn(store.sql);
    await Promise.all([first.start(), second.start()]);
    first.claim("a", "old-link", 1);
    await until(async () => (await second.lookup(["a"])).has("a"));
    second.claim("a", "new-link", 2);
    await until(async () => (await first.lookup(["a"])).get("a")?.lastSeenMs === 2);
    // Judged once the release is written, not after a guess at how long that takes.
    await first.release("a", "old-link");
    assert.equal((await first.lookup(["a"])).has("a"), true);
    await first.close();
    assert.equal((await first.lookup(["a"])).has("a"), true, "another node's claim stays");
    await second.close();
    assert.equal((await first.lookup(["a"])).has("a"), false, "a closing node takes its claims");
  });

  it("records heartbeats with the lease renewal", async () => {
    const node = presenceOn(store.sql, 600);
    await node.start();
    node.claim("b", "link-b", 1_000);
    await until(async () => (await node.lookup(["b"])).has("b"));
    node.heartbeat("link-b", 5_000);
    await until(async () => (await node.lookup(["b"])).get("b")?.lastSeenMs === 5_000);
    await node.close();
  });
});
