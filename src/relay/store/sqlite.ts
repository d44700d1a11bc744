/** SqliteStore: the embedded relay's state in one SQLite file (node:sqlite, WAL). */
import type { DatabaseSync } from "node:sqlite";
import type { AttemptRule } from "../rate_limit.ts";
import {
  type AttemptOutcome,
  ConflictError,
  type CredentialRecord,
  type MachineClientsSetting,
  type MachineInfo,
  type MachineRecord,
  type MachineTokenRecord,
  type ShareRecord,
  type Store,
  type WorkspaceRecord,
} from "./store.ts";
import {
  machineClientsOf,
  toCredential,
  toMachine,
  toMachineToken,
  toShare,
  toWorkspace,
} from "./rows.ts";
import { openSqliteDatabase, SqliteStatements } from "./sqlite_db.ts";
import { settleAttempt, takeAttempt } from "./sqlite_attempts.ts";

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

  machineClients(workspaceId: string): Promise<MachineClientsSetting> {
    const row = this.#sql.get(
      "SELECT machine_clients, machine_client_reach FROM workspaces WHERE id = ?",
      workspaceId,
    );
    return Promise.resolve(machineClientsOf(row));
  }

  setMachineClients(workspaceId: string, setting: MachineClientsSetting): Promise<boolean> {
    const changed = this.#sql.run(
      "UPDATE workspaces SET machine_clients = ?, machine_client_reach = ? WHERE id = ?",
      JSON.stringify(setting.allowFrom),
      JSON.stringify(setting.reach),
      workspaceId,
    );
    return Promise.resolve(changed > 0);
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

  insertEnrollToken(
    workspaceId: string,
    tokenHash: string,
    createdMs: number,
    expiresMs = 0,
  ): Promise<void> {
    this.#sql.run(
      `INSERT INTO enroll_tokens (token_hash, workspace_id, created_ms, expires_ms)
        VALUES (?, ?, ?, ?)`,
      tokenHash,
      workspaceId,
      createdMs,
      expiresMs,
    );
    return Promise.resolve();
  }

  workspaceIdByEnrollToken(tokenHash: string, nowMs: number): Promise<string | undefined> {
    const row = this.#sql.get(
      `SELECT workspace_id FROM enroll_tokens
        WHERE token_hash = ? AND (expires_ms = 0 OR expires_ms > ?)`,
      tokenHash,
      nowMs,
    );
    return Promise.resolve(row ? String(row.workspace_id) : undefined);
  }

  deleteApiKeys(workspaceId: string, hashPrefix: string): Promise<number> {
    return Promise.resolve(this.#sql.run(
      "DELETE FROM api_keys WHERE workspace_id = ? AND substr(key_hash, 1, ?) = ?",
      workspaceId,
      hashPrefix.length,
      hashPrefix,
    ));
  }

  deleteEnrollTokens(workspaceId: string, hashPrefix: string): Promise<number> {
    return Promise.resolve(this.#sql.run(
      "DELETE FROM enroll_tokens WHERE workspace_id = ? AND substr(token_hash, 1, ?) = ?",
      workspaceId,
      hashPrefix.length,
      hashPrefix,
    ));
  }

  listCredentials(workspaceId: string): Promise<CredentialRecord[]> {
    const rows = this.#sql.all(
      `SELECT 'api_key' AS kind, key_hash AS hash, created_ms, 0 AS expires_ms FROM api_keys
        WHERE workspace_id = ?
       UNION ALL
       SELECT 'enroll_token', token_hash, created_ms, expires_ms FROM enroll_tokens
        WHERE workspace_id = ?
       ORDER BY created_ms`,
      workspaceId,
      workspaceId,
    );
    return Promise.resolve(rows.map(toCredential));
  }

  insertMachine(m: MachineRecord): Promise<MachineRecord | undefined> {
    // One synchronous BEGIN IMMEDIATE transaction: no enrollment in this process or another
    // on the same file runs between the name check and the insert.
    return Promise.resolve(this.#transaction(() => {
      const other = this.#named(m.workspaceId, [m.hostname, m.displayName], m.id);
      if (other) return other;
      this.#sql.run(
        `INSERT INTO machines (id, workspace_id, hostname, display_name, os, arch, agent_version,
          secret_hash, password_hash, created_ms, last_seen_ms, labels)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
        JSON.stringify(m.labels),
      );
      return undefined;
    }));
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

  updateMachineInfo(id: string, info: MachineInfo): Promise<MachineRecord | undefined> {
    return Promise.resolve(this.#transaction(() => {
      const own = this.#sql.get("SELECT * FROM machines WHERE id = ?", id);
      if (!own) return undefined;
      // Names it already has are not checked again: a rename is what may take another's.
      const renamed = own.hostname !== info.hostname || own.display_name !== info.displayName;
      const other = renamed &&
        this.#named(String(own.workspace_id), [info.hostname, info.displayName], id);
      if (other) return other;
      this.#sql.run(
        `UPDATE machines SET hostname = ?, display_name = ?, os = ?, arch = ?, agent_version = ?,
          labels = ? WHERE id = ?`,
        info.hostname,
        info.displayName,
        info.os,
        info.arch,
        info.agentVersion,
        JSON.stringify(info.labels),
        id,
      );
      return undefined;
    }));
  }

  machineNamed(
    workspaceId: string,
    names: string[],
    exceptId: string,
  ): Promise<MachineRecord | undefined> {
    return Promise.resolve(this.#named(workspaceId, names, exceptId));
  }

  #named(workspaceId: string, names: string[], exceptId: string): MachineRecord | undefined {
    for (const name of new Set(names.map((n) => n.toLowerCase()))) {
      const row = this.#sql.get(
        `SELECT * FROM machines WHERE workspace_id = ? AND id <> ?
          AND (lower(hostname) = ? OR lower(display_name) = ?) LIMIT 1`,
        workspaceId,
        exceptId,
        name,
        name,
      );
      if (row) return toMachine(row);
    }
    return undefined;
  }

  deleteMachine(workspaceId: string, machineId: string): Promise<boolean> {
    return Promise.resolve(this.#transaction(() => {
      const owned = this.#sql.get(
        "SELECT id FROM machines WHERE workspace_id = ? AND id = ?",
        workspaceId,
        machineId,
      );
      if (!owned) return false;
      this.#sql.run("DELETE FROM shares WHERE machine_id = ?", machineId);
      this.#sql.run("DELETE FROM machine_tokens WHERE machine_id = ?", machineId);
      this.#sql.run("DELETE FROM machines WHERE id = ?", machineId);
      return true;
    }));
  }

  takeAttempt(key: string, rule: AttemptRule, nowMs: number): Promise<number> {
    // One synchronous transaction: no other caller in this process runs in between, and
    // BEGIN IMMEDIATE keeps other processes on the same file out until it commits.
    return Promise.resolve(this.#transaction(() => takeAttempt(this.#sql, key, rule, nowMs)));
  }

  settleAttempt(key: string, outcome: AttemptOutcome, nowMs = 0): Promise<void> {
    settleAttempt(this.#sql, key, outcome, nowMs);
    return Promise.resolve();
  }

  #transaction<T>(work: () => T): T {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const result = work();
      this.#db.exec("COMMIT");
      return result;
    } catch (error) {
      this.#db.exec("ROLLBACK");
      throw error;
    }
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
      `INSERT INTO shares (id, workspace_id, machine_id, token_hash, created_ms, expires_ms,
          revoked_ms, read_only, owner)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      s.id,
      s.workspaceId,
      s.machineId,
      s.tokenHash,
      s.createdMs,
      s.expiresMs,
      s.revokedMs,
      s.readOnly ? 1 : 0,
      s.owner,
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
