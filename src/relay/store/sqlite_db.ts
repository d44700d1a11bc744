/** The embedded relay's `relay.db`: opening and migrating it, and running statements on it. */
import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import { join } from "node:path";
import { refuseLinkedFile, securePrivateDir, securePrivateFile } from "../../lib/private_files.ts";
import { SQLITE_MIGRATIONS } from "./schema.ts";

/** The database and the files SQLite keeps beside it in WAL mode. */
const DB_FILES = ["relay.db", "relay.db-wal", "relay.db-shm"];

/** A result row as node:sqlite returns it. */
export type SqliteRow = Record<string, SQLInputValue>;

/**
 * Opens (creating when missing) `relay.db` in `dataDir` in WAL mode and migrates it.
 * The folder holds every hash the relay keeps: it is made 0700 and its files 0600,
 * looser modes are tightened and reported through `log`, and a symbolic link in place
 * of one of the files is refused before SQLite can follow it.
 *
 * @example
 * ```ts
 * const db = await openSqliteDatabase("/var/lib/cmdop");
 * ```
 */
export async function openSqliteDatabase(
  dataDir: string,
  log: (message: string) => void = (message) => console.error(message),
): Promise<DatabaseSync> {
  await securePrivateDir(dataDir, log);
  for (const name of DB_FILES) await refuseLinkedFile(join(dataDir, name));
  for (const name of DB_FILES) await securePrivateFile(join(dataDir, name), log);
  const path = join(dataDir, "relay.db");
  // Created 0600 before SQLite opens it: SQLite gives its -wal and -shm files the database's mode.
  await Deno.writeFile(path, new Uint8Array(), { append: true, mode: 0o600 });
  const db = new DatabaseSync(path);
  try {
    db.exec("PRAGMA busy_timeout = 5000;");
    // A newer cmdop's database is refused before anything is written to it: switching it to
    // WAL would already change the file and leave -wal and -shm files beside it.
    const current = Number((db.prepare("PRAGMA user_version").get() as SqliteRow).user_version);
    if (current > SQLITE_MIGRATIONS.length) {
      throw new Error(
        `relay database schema version ${current} is newer than this cmdop (${SQLITE_MIGRATIONS.length})`,
      );
    }
    db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;");
    migrate(db);
  } catch (error) {
    db.close();
    throw error;
  }
  for (const name of DB_FILES) await securePrivateFile(join(dataDir, name), log);
  return db;
}

function migrate(db: DatabaseSync): void {
  const current = Number((db.prepare("PRAGMA user_version").get() as SqliteRow).user_version);
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
  /**
   * Prepared once per SQL text: preparing was 7 % of a relay's CPU under 250
   * heartbeat answers a second. The texts are the stores' constants, so the
   * map holds a few dozen; it is cleared past 256 all the same.
   */
  #prepared = new Map<string, StatementSync>();

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  #statement(sql: string): StatementSync {
    let statement = this.#prepared.get(sql);
    if (!statement) {
      if (this.#prepared.size >= 256) this.#prepared.clear();
      statement = this.#db.prepare(sql);
      this.#prepared.set(sql, statement);
    }
    return statement;
  }

  /** Runs a statement; returns how many rows it changed. */
  run(sql: string, ...params: SQLInputValue[]): number {
    return Number(this.#statement(sql).run(...params).changes);
  }

  /** The first row of a query, or `undefined`. */
  get(sql: string, ...params: SQLInputValue[]): SqliteRow | undefined {
    return this.#statement(sql).get(...params) as SqliteRow | undefined;
  }

  /** Every row of a query. */
  all(sql: string, ...params: SQLInputValue[]): SqliteRow[] {
    return this.#statement(sql).all(...params) as SqliteRow[];
  }
}
