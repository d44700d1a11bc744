/** The embedded relay's `relay.db`: opening and migrating it, and running statements on it. */
import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import { join } from "node:path";
import { SQLITE_MIGRATIONS } from "./sqlite_schema.ts";

/** A result row as node:sqlite returns it. */
export type SqliteRow = Record<string, SQLInputValue>;

/**
 * Opens (creating when missing) `relay.db` in `dataDir` in WAL mode and migrates it.
 *
 * @example
 * ```ts
 * const db = await openSqliteDatabase("/var/lib/cmdop");
 * ```
 */
export async function openSqliteDatabase(dataDir: string): Promise<DatabaseSync> {
  await Deno.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const db = new DatabaseSync(join(dataDir, "relay.db"));
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;");
  db.exec("PRAGMA busy_timeout = 5000;");
  migrate(db);
  return db;
}

function migrate(db: DatabaseSync): void {
  const current = Number((db.prepare("PRAGMA user_version").get() as SqliteRow).user_version);
  if (current > SQLITE_MIGRATIONS.length) {
    throw new Error(
      `relay database schema version ${current} is newer than this cmdop (${SQLITE_MIGRATIONS.length})`,
    );
  }
  for (let version = current; version < SQLITE_MIGRATIONS.length; version++) {
    db.exec("BEGIN IMMEDIATE");
    try {
      db.exec(SQLITE_MIGRATIONS[version]);
      db.exec(`PRAGMA user_version = ${version + 1}`);
      db.exec("COMMIT");
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    }
  }
}

/**
 * Prepares and runs one statement at a time on a database, for the stores that share it.
 *
 * @example
 * ```ts
 * const statements = new SqliteStatements(await openSqliteDatabase(dir));
 * const row = statements.get("SELECT * FROM users WHERE id = ?", id);
 * ```
 */
export class SqliteStatements {
  #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** Runs a statement; returns how many rows it changed. */
  run(sql: string, ...params: SQLInputValue[]): number {
    return Number(this.#db.prepare(sql).run(...params).changes);
  }

  /** The first row of a query, or `undefined`. */
  get(sql: string, ...params: SQLInputValue[]): SqliteRow | undefined {
    return this.#db.prepare(sql).get(...params) as SqliteRow | undefined;
  }

  /** Every row of a query. */
  all(sql: string, ...params: SQLInputValue[]): SqliteRow[] {
    return this.#db.prepare(sql).all(...params) as SqliteRow[];
  }
}
