/** SqliteStore: the embedded relay's state in one SQLite file (node:sqlite, WAL). */
import type { DatabaseSync } from "node:sqlite";
import {
  ConflictError,
  type MachineInfo,
  type MachineRecord,
  type MachineTokenRecord,
  type ShareRecord,
  type Store,
  type WorkspaceRecord,
} from "./store.ts";
import { toMachine, toMachineToken, toShare, toWorkspace } from "./rows.ts";
import { openSqliteDatabase, SqliteStatements } from "./sqlite_db.ts";

/**
 * Opens (creating when missing) `relay.db` in `dataDir` and migrates it.
 *
 * @example
 * ```ts
 * const store = await openSqliteStore("/var/lib/cmdop");
 * ```
 */
export async function openSqliteStore(
  dataDir: string,
  log?: (message: string) => void,
): Promise<SqliteStore> {
  return new SqliteStore(await openSqliteDatabase(dataDir, log));
}

export class SqliteStore implements Store {
  #db: DatabaseSync;
  #sql: SqliteStatements;

  constructor(db: DatabaseSync) {
    this.#db = db;
    this.#sql = new SqliteStatements(db);
  }

  /** The underlying database, for stores layered on this one. */
  get db(): DatabaseSync {
    return this.#db;
  }

  insertWorkspace(w: WorkspaceRecord): Promise<void> {
    try {
      this.#sql.run(
        "INSERT INTO workspaces (id, name, created_ms) VALUES (?, ?, ?)",
        w.id,
        w.name,
        w.createdMs,
      );
    } catch (error) {
      if (String(error).includes("UNIQUE")) {
        return Promise.reject(new ConflictError(`workspace "${w.name}" already exists`));
      }
      return Promise.reject(error);
    }
    return Promise.resolve();
  }

  workspaceById(id: string): Promise<WorkspaceRecord | undefined> {
    return Promise.resolve(toWorkspace(this.#sql.get("SELECT * FROM workspaces WHERE id = ?", id)));
  }

  workspaceByName(name: string): Promise<WorkspaceRecord | undefined> {
    return Promise.resolve(
      toWorkspace(this.#sql.get("SELECT * FROM workspaces WHERE name = ?", name)),
    );
  }

  listWorkspaces(): Promise<WorkspaceRecord[]> {
    const rows = this.#sql.all("SELECT * FROM workspaces ORDER BY name");
    return Promise.resolve(rows.map((r) => toWorkspace(r)!));
  }

  insertApiKey(workspaceId: string, keyHash: string, createdMs: number): Promise<void> {
    this.#sql.run(
      "INSERT INTO api_keys (key_hash, workspace_id, created_ms) VALUES (?, ?, ?)",
      keyHash,
      workspaceId,
      createdMs,
    );
    return Promise.resolve();
  }

  workspaceIdByApiKey(keyHash: string): Promise<string | undefined> {
    const row = this.#sql.get("SELECT workspace_id FROM api_keys WHERE key_hash = ?", keyHash);
    return Promise.resolve(row ? String(row.workspace_id) : undefined);
  }

  insertEnrollToken(workspaceId: string, tokenHash: string, createdMs: number): Promise<void> {
    this.#sql.run(
      "INSERT INTO enroll_tokens (token_hash, workspace_id, created_ms) VALUES (?, ?, ?)",
      tokenHash,
      workspaceId,
      createdMs,
    );
    return Promise.resolve();
  }

  workspaceIdByEnrollToken(tokenHash: string): Promise<string | undefined> {
    const row = this.#sql.get(
      "SELECT workspace_id FROM enroll_tokens WHERE token_hash = ?",
      tokenHash,
    );
    return Promise.resolve(row ? String(row.workspace_id) : undefined);
  }

  insertMachine(m: MachineRecord): Promise<void> {
    this.#sql.run(
      `INSERT INTO machines (id, workspace_id, hostname, display_name, os, arch, agent_version,
        secret_hash, password_hash, created_ms, last_seen_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      m.id,
      m.workspaceId,
      m.hostname,
      m.displayName,
      m.os,
      m.arch,
      m.agentVersion,
      m.secretHash,
      m.passwordHash,
      m.createdMs,
      m.lastSeenMs,
    );
    return Promise.resolve();
  }

  machineById(id: string): Promise<MachineRecord | undefined> {
    return Promise.resolve(toMachine(this.#sql.get("SELECT * FROM machines WHERE id = ?", id)));
  }

  listMachines(workspaceId: string): Promise<MachineRecord[]> {
    const rows = this.#sql.all(
      "SELECT * FROM machines WHERE workspace_id = ? ORDER BY display_name, hostname",
      workspaceId,
    );
    return Promise.resolve(rows.map((r) => toMachine(r)!));
  }

  updateMachineInfo(id: string, info: MachineInfo): Promise<void> {
    this.#sql.run(
      `UPDATE machines SET hostname = ?, display_name = ?, os = ?, arch = ?, agent_version = ?
        WHERE id = ?`,
      info.hostname,
      info.displayName,
      info.os,
      info.arch,
      info.agentVersion,
      id,
    );
    return Promise.resolve();
  }

  touchMachines(ids: string[], lastSeenMs: number): Promise<void> {
    if (ids.length === 0) return Promise.resolve();
    const update = this.#db.prepare("UPDATE machines SET last_seen_ms = ? WHERE id = ?");
    this.#db.exec("BEGIN");
    try {
      for (const id of ids) update.run(lastSeenMs, id);
      this.#db.exec("COMMIT");
    } catch (error) {
      this.#db.exec("ROLLBACK");
      return Promise.reject(error);
    }
    return Promise.resolve();
  }

  setMachinePassword(id: string, passwordHash: string | null): Promise<void> {
    this.#sql.run("UPDATE machines SET password_hash = ? WHERE id = ?", passwordHash, id);
    return Promise.resolve();
  }

  insertMachineToken(t: MachineTokenRecord): Promise<void> {
    this.#sql.run(
      "INSERT INTO machine_tokens (token_hash, machine_id, expires_ms) VALUES (?, ?, ?)",
      t.tokenHash,
      t.machineId,
      t.expiresMs,
    );
    return Promise.resolve();
  }

  machineToken(tokenHash: string): Promise<MachineTokenRecord | undefined> {
    return Promise.resolve(
      toMachineToken(this.#sql.get("SELECT * FROM machine_tokens WHERE token_hash = ?", tokenHash)),
    );
  }

  insertShare(s: ShareRecord): Promise<void> {
    this.#sql.run(
      `INSERT INTO shares (id, workspace_id, machine_id, token_hash, created_ms, expires_ms, revoked_ms)
        VALUES (?, ?, ?, ?, ?, ?, ?)`,
      s.id,
      s.workspaceId,
      s.machineId,
      s.tokenHash,
      s.createdMs,
      s.expiresMs,
      s.revokedMs,
    );
    return Promise.resolve();
  }

  shareByToken(tokenHash: string): Promise<ShareRecord | undefined> {
    return Promise.resolve(
      toShare(this.#sql.get("SELECT * FROM shares WHERE token_hash = ?", tokenHash)),
    );
  }

  listShares(workspaceId: string): Promise<ShareRecord[]> {
    const rows = this.#sql.all(
      "SELECT * FROM shares WHERE workspace_id = ? ORDER BY created_ms",
      workspaceId,
    );
    return Promise.resolve(rows.map((r) => toShare(r)!));
  }

  revokeShare(workspaceId: string, shareId: string, nowMs: number): Promise<boolean> {
    const changed = this.#sql.run(
      "UPDATE shares SET revoked_ms = COALESCE(revoked_ms, ?) WHERE workspace_id = ? AND id = ?",
      nowMs,
      workspaceId,
      shareId,
    );
    return Promise.resolve(changed > 0);
  }

  ping(): Promise<void> {
    this.#db.prepare("SELECT 1").get();
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.#db.close();
    return Promise.resolve();
  }
}
