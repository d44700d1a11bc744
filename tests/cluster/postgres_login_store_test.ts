/** PostgresLoginStore against a real PostgreSQL: its migration, users and grants, device codes, token rotation and revocation. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import postgres from "postgres";
import type { DeviceCodeRecord } from "../../src/relay/login/login_store.ts";
import { PostgresLoginStore } from "../../src/relay/login/postgres_login_store.ts";
import { openPostgresStore, type PostgresStore } from "../../src/relay/store/postgres.ts";
import { POSTGRES_MIGRATIONS } from "../../src/relay/store/schema.ts";
import { ConflictError } from "../../src/relay/store/store.ts";
import { createWorkspace } from "../../src/relay/workspace_admin.ts";
import { clusterSkipReason, createDatabase } from "./_cluster.ts";
import { type ServiceProcess, startPostgres } from "./_services.ts";

const skip = await clusterSkipReason("PostgresLoginStore");
const DAY_MS = 24 * 3_600_000;

function deviceCode(hash: string, userCode: string, createdMs: number): DeviceCodeRecord {
  return {
    deviceCodeHash: hash,
    userCode,
    clientId: "cmdop-cli",
    createdMs,
    expiresMs: createdMs + 600_000,
    intervalS: 5,
    lastPollMs: null,
    status: "pending",
    userId: null,
  };
}

describe("PostgresLoginStore", { skip }, () => {
  let pg: ServiceProcess;
  let store: PostgresStore;
  let logins: PostgresLoginStore;

  before(async () => {
    pg = await startPostgres();
    store = await openPostgresStore(await createDatabase(pg.url, "logins"));
    logins = new PostgresLoginStore(store.sql);
  });
  after(async () => {
    await store?.close();
    await pg?.stop();
  });

  it("adds the login tables to a database an earlier cmdop migrated", async () => {
    const url = await createDatabase(pg.url, "upgrade");
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    await sql`CREATE TABLE cmdop_schema (version INTEGER PRIMARY KEY, applied_ms BIGINT NOT NULL)`;
    for (const [i, migration] of POSTGRES_MIGRATIONS.slice(0, 2).entries()) {
      await sql.unsafe(migration).simple();
      await sql`INSERT INTO cmdop_schema VALUES (${i + 1}, 0)`;
    }
    await sql.end();
    const upgraded = await openPostgresStore(url);
    const [{ version }] = await upgraded.sql`SELECT MAX(version) AS version FROM cmdop_schema`;
    assert.equal(version, POSTGRES_MIGRATIONS.length);
    assert.equal(await new PostgresLoginStore(upgraded.sql).userByEmail("a@b.c"), undefined);
    await upgraded.close();
  });

  it("keeps emails unique and grants workspaces once", async () => {
    const ws = await createWorkspace(store, "alpha", 1);
    const other = await createWorkspace(store, "beta", 1);
    const user = { id: "u1", email: "ana@example.com", passwordHash: "bcrypt", createdMs: 7 };
    await logins.insertUser(user);
    await assert.rejects(logins.insertUser({ ...user, id: "u2" }), ConflictError);
    assert.deepEqual(await logins.userByEmail("ana@example.com"), user);
    await logins.setUserPassword("u1", "bcrypt-2");
    assert.equal((await logins.userById("u1"))?.passwordHash, "bcrypt-2");
    await logins.grantWorkspace("u1", other.workspace_id, 1);
    await logins.grantWorkspace("u1", ws.workspace_id, 1);
    await logins.grantWorkspace("u1", ws.workspace_id, 2);
    assert.deepEqual((await logins.userWorkspaces("u1")).map((w) => w.name), ["alpha", "beta"]);
  });

  it("moves a device code through its states, consumed by one poller only", async () => {
    await logins.insertDeviceCode(deviceCode("d1", "ABCDEFGH", 1_000));
    assert.equal((await logins.deviceCodeByUserCode("ABCDEFGH"))?.deviceCodeHash, "d1");
    assert.equal(await logins.consumeDeviceCode("d1"), false, "a pending code is not consumed");
    await logins.updateDeviceCode("d1", { lastPollMs: 2_000, intervalS: 10 });
    await logins.updateDeviceCode("d1", { status: "approved", userId: "u1" });
    assert.deepEqual(await logins.deviceCodeByHash("d1"), {
      ...deviceCode("d1", "ABCDEFGH", 1_000),
      lastPollMs: 2_000,
      intervalS: 10,
      status: "approved",
      userId: "u1",
    });
    const results = await Promise.all([1, 2, 3, 4].map(() => logins.consumeDeviceCode("d1")));
    assert.deepEqual(results.filter(Boolean), [true]);
    assert.equal((await logins.deviceCodeByHash("d1"))?.status, "consumed");
  });

  it("forgets device codes a day after they expired", async () => {
    await logins.insertDeviceCode(deviceCode("old", "OLDOLDOL", 1_000));
    await logins.insertDeviceCode(deviceCode("new", "NEWNEWNE", 1_000 + 2 * DAY_MS));
    assert.equal(await logins.deviceCodeByHash("old"), undefined);
    assert.equal((await logins.deviceCodeByHash("new"))?.userCode, "NEWNEWNE");
  });

  it("lets a refresh token be used once, and keeps the first revocation", async () => {
    await logins.insertGrant("g1", "u1", 1);
    await logins.insertLoginToken({
      tokenHash: "r1",
      kind: "refresh",
      grantId: "g1",
      expiresMs: 9,
    });
    await logins.insertLoginToken({ tokenHash: "a1", kind: "access", grantId: "g1", expiresMs: 5 });
    assert.equal(await logins.useRefreshToken("a1", 3), false, "access tokens are not refreshed");
    const uses = await Promise.all([1, 2, 3, 4].map((i) => logins.useRefreshToken("r1", i)));
    assert.deepEqual(uses.filter(Boolean), [true]);
    await logins.revokeGrant("g1", 20);
    await logins.revokeGrant("g1", 30);
    assert.deepEqual(await logins.loginToken("a1"), {
      tokenHash: "a1",
      kind: "access",
      grantId: "g1",
      userId: "u1",
      expiresMs: 5,
      usedMs: null,
      grantRevokedMs: 20,
    });
    assert.notEqual((await logins.loginToken("r1"))?.usedMs, null);
    assert.equal(await logins.loginToken("nope"), undefined);
  });
});
