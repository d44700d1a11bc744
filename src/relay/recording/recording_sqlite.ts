/** SqliteRecordingStore: the embedded relay's recordings, indexed in relay.db (migration 8), one asciicast file each in the data folder. */
import type { DatabaseSync, SQLInputValue } from "node:sqlite";
import { join } from "node:path";
import { refuseLinkedFile, securePrivateDir, UnsafeFileError } from "../../lib/private_files.ts";
import { SqliteStatements } from "../store/sqlite_db.ts";
import {
  MAX_PAGE,
  READ_CHUNK_BYTES,
  type RecordingQuery,
  type RecordingResult,
  type RecordingRow,
  type RecordingSink,
  type RecordingStore,
  toRecordingRow,
} from "./recording_store.ts";

/** The folder under the relay's data folder that holds the files. */
export const RECORDINGS_FOLDER = "recordings";

/**
 * Files `DIR/recordings/SESSION_ID.cast`, mode 0600 in a 0700 folder, and their index rows
 * in the relay's SQLite database.
 *
 * @example
 * ```ts
 * const store = await openSqliteStore(dir);
 * const recordings = await SqliteRecordingStore.open(store.db, dir, log);
 * ```
 */
export class SqliteRecordingStore implements RecordingStore {
  #sql: SqliteStatements;
  #dir: string;

  private constructor(db: DatabaseSync, dir: string) {
    this.#sql = new SqliteStatements(db);
    this.#dir = dir;
  }

  /** The store of the data folder `dataDir`; its recordings folder is made (or tightened to) 0700. */
  static async open(
    db: DatabaseSync,
    dataDir: string,
    log: (message: string) => void,
  ): Promise<SqliteRecordingStore> {
    const dir = join(dataDir, RECORDINGS_FOLDER);
    await refuseLinkedDir(dir);
    await securePrivateDir(dir, log);
    return new SqliteRecordingStore(db, dir);
  }

  /** Where a recording's file is: ids are the relay's own UUIDs, never a client's text. */
  pathOf(id: string): string {
    if (!/^[0-9a-f-]{36}$/i.test(id)) throw new Error(`recording id "${id}" is not a UUID`);
    return join(this.#dir, `${id}.cast`);
  }

  enabled(workspaceId: string): Promise<boolean> {
    const row = this.#sql.get(
      "SELECT session_recording FROM workspaces WHERE id = ?",
      workspaceId,
    );
    return Promise.resolve(Number(row?.session_recording ?? 0) === 1);
  }

  setEnabled(workspaceId: string, on: boolean): Promise<boolean> {
    const changed = this.#sql.run(
      "UPDATE workspaces SET session_recording = ? WHERE id = ?",
      on ? 1 : 0,
      workspaceId,
    );
    return Promise.resolve(changed > 0);
  }

  async begin(row: RecordingRow): Promise<RecordingSink> {
    const path = this.pathOf(row.id);
    // A new file, created 0600; `createNew` refuses whatever (a link) already has the name.
    const file = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
    file.close();
    this.#sql.run(
      `INSERT INTO recordings (id, workspace_id, machine_id, machine_name, actor_kind, actor_id,
        kind, argv, width, height, started_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      row.id,
      row.workspaceId,
      row.machineId,
      row.machineName,
      row.actorKind,
      row.actorId,
      row.kind,
      JSON.stringify(row.argv),
      row.width,
      row.height,
      row.startedMs,
    );
    return new FileSink(path);
  }

  finish(id: string, r: RecordingResult): Promise<void> {
    this.#sql.run(
      `UPDATE recordings SET ended_ms = ?, bytes = ?, output_bytes = ?, truncated = ?,
        gap_bytes = ?, exit_code = ? WHERE id = ?`,
      r.endedMs,
      r.bytes,
      r.outputBytes,
      r.truncated ? 1 : 0,
      r.gapBytes,
      r.exitCode,
      id,
    );
    return Promise.resolve();
  }

  list(q: RecordingQuery): Promise<RecordingRow[]> {
    const where = ["started_ms >= ?"];
    const params: SQLInputValue[] = [q.sinceMs];
    if (q.workspaceId !== undefined) {
      where.push("workspace_id = ?");
      params.push(q.workspaceId);
    }
    if (q.machine) {
      where.push("(machine_id = ? OR lower(machine_name) = lower(?))");
      params.push(q.machine, q.machine);
    }
    if (q.before) {
      where.push("(started_ms < ? OR (started_ms = ? AND id < ?))");
      params.push(q.before.startedMs, q.before.startedMs, q.before.id);
    }
    const rows = this.#sql.all(
      `SELECT * FROM recordings WHERE ${where.join(" AND ")}
        ORDER BY started_ms DESC, id DESC LIMIT ?`,
      ...params,
      Math.min(Math.max(q.limit, 1), MAX_PAGE),
    );
    return Promise.resolve(rows.map(toRecordingRow));
  }

  get(id: string, workspaceId: string | undefined): Promise<RecordingRow | undefined> {
    const row = this.#sql.get("SELECT * FROM recordings WHERE id = ?", id);
    if (!row || (workspaceId !== undefined && row.workspace_id !== workspaceId)) {
      return Promise.resolve(undefined);
    }
    return Promise.resolve(toRecordingRow(row));
  }

  async *read(row: RecordingRow): AsyncIterable<Uint8Array> {
    const path = this.pathOf(row.id);
    await refuseLinkedFile(path);
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true });
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      throw error;
    }
    try {
      for (;;) {
        const buffer = new Uint8Array(READ_CHUNK_BYTES);
        const n = await file.read(buffer);
        if (n === null) return;
        yield buffer.subarray(0, n);
      }
    } finally {
      file.close();
    }
  }

  async prune(beforeMs: number): Promise<number> {
    const old = this.#sql.all("SELECT id FROM recordings WHERE started_ms < ?", beforeMs);
    for (const { id } of old) {
      // The row goes first: a file whose row is gone is never served, whatever happens next.
      this.#sql.run("DELETE FROM recordings WHERE id = ?", id);
      await Deno.remove(this.pathOf(String(id))).catch((error) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      });
    }
    return old.length;
  }
}

/** The recordings folder, when it exists, must be a folder and not a link to one elsewhere. */
async function refuseLinkedDir(dir: string): Promise<void> {
  try {
    const info = await Deno.lstat(dir);
    if (info.isSymlink || !info.isDirectory) {
      throw new UnsafeFileError(dir, info.isSymlink ? "is a symbolic link" : "is not a folder");
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/**
 * Appends to the recording's file, opened only while there is something to write, so an idle
 * terminal holds no descriptor; never created again once pruned (a write then fails).
 */
class FileSink implements RecordingSink {
  #path: string;
  #file: Deno.FsFile | undefined;

  constructor(path: string) {
    this.#path = path;
  }

  async write(bytes: Uint8Array): Promise<void> {
    this.#file ??= await Deno.open(this.#path, { append: true });
    let done = 0;
    while (done < bytes.length) done += await this.#file.write(bytes.subarray(done));
  }

  idle(): Promise<void> {
    this.#file?.close();
    this.#file = undefined;
    return Promise.resolve();
  }
}
