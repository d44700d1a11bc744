import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS } from "./schema.ts";

/** A migration's text with its layout removed: what a database runs, not how it is indented. */
function normalized(sql: string): string {
  return sql.replace(/\s+/g, " ").trim();
}

async function fingerprint(sql: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(normalized(sql)));
  return Array.from(new Uint8Array(digest).slice(0, 8), (b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/**
 * Released migrations: databases in the field ran these texts and record only their number, so
 * an edit would never reach them. Append a new migration instead, and its fingerprint here.
 */
const RELEASED = {
  sqlite: [
    "901de96f0571afe6", // 1
    "33b36c75349b75fe", // 2
    "aa3555dac608b425", // 3
    "6cb04b7c643ff2e3", // 4
    "d517a31404deae8c", // 5
    "8b8f0e5da2d5ce2b", // 6
    "2ddc70be6938f014", // 7
    "f1f296c787077c73", // 8
    "01f0a774b6a1facc", // 9
  ],
  postgres: [
    "1b4da5889d2949fe", // 1
    "c0fa02bba2063aef", // 2
    "c941ffd0c0807b13", // 3
    "3159a173ddcf2bc8", // 4
    "6cb04b7c643ff2e3", // 5
    "d517a31404deae8c", // 6
    "8b8f0e5da2d5ce2b", // 7
    "87b127c4d1d31481", // 8
    "ad09a050627817b7", // 9
    "326637185bc1919a", // 10
  ],
};

/** Table → column names, read from the migrations' CREATE TABLE and ADD COLUMN statements. */
function columnsOf(migrations: readonly string[]): Map<string, string[]> {
  const tables = new Map<string, string[]>();
  for (const sql of migrations.map(normalized)) {
    for (const [, table, body] of sql.matchAll(/CREATE TABLE (\w+) \((.*?)\);/g)) {
      const columns = body.split(",").map((part) => part.trim().split(" ")[0])
        .filter((name) => name !== "PRIMARY" && !name.startsWith("workspace_id)"));
      tables.set(table, columns);
    }
    for (const [, table, column] of sql.matchAll(/ALTER TABLE (\w+) ADD COLUMN (\w+)/g)) {
      tables.get(table)!.push(column);
    }
  }
  return tables;
}

describe("relay schema", () => {
  it("keeps every released migration as it was released", async () => {
    for (
      const [name, migrations] of [["sqlite", SQLITE_MIGRATIONS], [
        "postgres",
        POSTGRES_MIGRATIONS,
      ]] as const
    ) {
      const pins = RELEASED[name];
      assert.ok(migrations.length >= pins.length, `${name}: a released migration was removed`);
      const now = await Promise.all(migrations.slice(0, pins.length).map(fingerprint));
      now.forEach((print, i) =>
        assert.equal(
          print,
          pins[i],
          `${name} migration ${i + 1} changed after its release: add a new one`,
        )
      );
    }
  });

  it("gives both databases the same tables and columns, but for the cluster's own", () => {
    const sqlite = columnsOf(SQLITE_MIGRATIONS);
    const postgres = columnsOf(POSTGRES_MIGRATIONS);
    for (const clusterOnly of ["relay_nodes", "agent_presence", "recording_chunks"]) {
      assert.ok(postgres.delete(clusterOnly), clusterOnly);
    }
    assert.deepEqual(sqlite, postgres);
  });

  it("runs on SQLite, creating the columns the statements name", () => {
    const db = new DatabaseSync(":memory:");
    try {
      for (const migration of SQLITE_MIGRATIONS) db.exec(migration);
      const real = new Map<string, string[]>();
      const tables = db.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
      ).all() as { name: string }[];
      for (const { name } of tables) {
        const info = db.prepare(`PRAGMA table_info(${name})`).all() as { name: string }[];
        real.set(name, info.map((column) => column.name));
      }
      assert.deepEqual(
        new Map([...real].sort()),
        new Map([...columnsOf(SQLITE_MIGRATIONS)].sort()),
      );
    } finally {
      db.close();
    }
  });
});
