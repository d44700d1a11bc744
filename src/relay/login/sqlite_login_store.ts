/** SqliteLoginStore: login state in the embedded relay's SQLite database, beside the main store. */
import type { DatabaseSync, SQLInputValue } from "node:sqlite";
import { toWorkspace } from "../store/rows.ts";
import { SqliteStatements } from "../store/sqlite_db.ts";
import { ConflictError, type WorkspaceRecord } from "../store/store.ts";
import type {
  DeviceCodeChange,
  DeviceCodeRecord,
  LoginStore,
  LoginTokenRecord,
  UserRecord,
} from "./login_store.ts";
import {
  DEVICE_CODE_COLUMNS,
  DEVICE_CODE_KEEP_MS,
  toDeviceCode,
  toLoginToken,
  toUser,
} from "./rows.ts";

/**
 * The login tables of migration 2, on the database a `SqliteStore` already opened.
 *
 * @example
 * ```ts
 * const store = await openSqliteStore(dir);
 * const logins = new SqliteLoginStore(store.db);
 * ```
 */
export class SqliteLoginStore implements LoginStore {
  #sql: SqliteStatements;

  constructor(db: DatabaseSync) {
    this.#sql = new SqliteStatements(db);
  }

  insertUser(user: UserRecord): Promise<void> {
    try {
      this.#sql.run(
        "INSERT INTO users (id, email, password_hash, created_ms) VALUES (?, ?, ?, ?)",
        user.id,
        user.email,
        user.passwordHash,
        user.createdMs,
      );
    } catch (error) {
      if (String(error).includes("UNIQUE")) {
        return Promise.reject(new ConflictError(`user "${user.email}" already exists`));
      }
      return Promise.reject(error);
    }
    return Promise.resolve();
  }

  userByEmail(email: string): Promise<UserRecord | undefined> {
    return Promise.resolve(toUser(this.#sql.get("SELECT * FROM users WHERE email = ?", email)));
  }

  userById(id: string): Promise<UserRecord | undefined> {
    return Promise.resolve(toUser(this.#sql.get("SELECT * FROM users WHERE id = ?", id)));
  }

  setUserPassword(userId: string, passwordHash: string): Promise<void> {
    this.#sql.run("UPDATE users SET password_hash = ? WHERE id = ?", passwordHash, userId);
    return Promise.resolve();
  }

  grantWorkspace(userId: string, workspaceId: string, nowMs: number): Promise<void> {
    this.#sql.run(
      `INSERT INTO user_workspaces (user_id, workspace_id, created_ms) VALUES (?, ?, ?)
        ON CONFLICT DO NOTHING`,
      userId,
      workspaceId,
      nowMs,
    );
    return Promise.resolve();
  }

  userWorkspaces(userId: string): Promise<WorkspaceRecord[]> {
    const rows = this.#sql.all(
      `SELECT w.* FROM workspaces w JOIN user_workspaces u ON u.workspace_id = w.id
        WHERE u.user_id = ? ORDER BY w.name`,
      userId,
    );
    return Promise.resolve(rows.map((r) => toWorkspace(r)!));
  }

  insertDeviceCode(c: DeviceCodeRecord): Promise<void> {
    this.#sql.run(
      "DELETE FROM device_codes WHERE expires_ms < ?",
      c.createdMs - DEVICE_CODE_KEEP_MS,
    );
    this.#sql.run(
      `INSERT INTO device_codes (device_code_hash, user_code, client_id, created_ms, expires_ms,
        interval_s, last_poll_ms, status, user_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      c.deviceCodeHash,
      c.userCode,
      c.clientId,
      c.createdMs,
      c.expiresMs,
      c.intervalS,
      c.lastPollMs,
      c.status,
      c.userId,
    );
    return Promise.resolve();
  }

  deviceCodeByHash(hash: string): Promise<DeviceCodeRecord | undefined> {
    return Promise.resolve(
      toDeviceCode(this.#sql.get("SELECT * FROM device_codes WHERE device_code_hash = ?", hash)),
    );
  }

  deviceCodeByUserCode(userCode: string): Promise<DeviceCodeRecord | undefined> {
    return Promise.resolve(
      toDeviceCode(this.#sql.get("SELECT * FROM device_codes WHERE user_code = ?", userCode)),
    );
  }

  updateDeviceCode(hash: string, change: DeviceCodeChange): Promise<void> {
    const entries = Object.entries(change) as [keyof DeviceCodeChange, SQLInputValue][];
    if (entries.length === 0) return Promise.resolve();
    const sets = entries.map(([key]) => `${DEVICE_CODE_COLUMNS[key]} = ?`).join(", ");
    this.#sql.run(
      `UPDATE device_codes SET ${sets} WHERE device_code_hash = ?`,
      ...entries.map(([, value]) => value),
      hash,
    );
    return Promise.resolve();
  }

  consumeDeviceCode(hash: string): Promise<boolean> {
    const changed = this.#sql.run(
      "UPDATE device_codes SET status = 'consumed' WHERE device_code_hash = ? AND status = 'approved'",
      hash,
    );
    return Promise.resolve(changed > 0);
  }

  insertGrant(id: string, userId: string, createdMs: number): Promise<void> {
    this.#sql.run(
      "INSERT INTO login_grants (id, user_id, created_ms, revoked_ms) VALUES (?, ?, ?, NULL)",
      id,
      userId,
      createdMs,
    );
    return Promise.resolve();
  }

  revokeGrant(id: string, nowMs: number): Promise<void> {
    this.#sql.run(
      "UPDATE login_grants SET revoked_ms = COALESCE(revoked_ms, ?) WHERE id = ?",
      nowMs,
      id,
    );
    return Promise.resolve();
  }

  insertLoginToken(
    t: Omit<LoginTokenRecord, "usedMs" | "grantRevokedMs" | "userId">,
  ): Promise<void> {
    this.#sql.run(
      `INSERT INTO login_tokens (token_hash, kind, grant_id, expires_ms, used_ms)
        VALUES (?, ?, ?, ?, NULL)`,
      t.tokenHash,
      t.kind,
      t.grantId,
      t.expiresMs,
    );
    return Promise.resolve();
  }

  loginToken(tokenHash: string): Promise<LoginTokenRecord | undefined> {
    const row = this.#sql.get(
      `SELECT t.*, g.user_id, g.revoked_ms FROM login_tokens t
        JOIN login_grants g ON g.id = t.grant_id WHERE t.token_hash = ?`,
      tokenHash,
    );
    return Promise.resolve(toLoginToken(row));
  }

  useRefreshToken(tokenHash: string, nowMs: number): Promise<boolean> {
    const changed = this.#sql.run(
      `UPDATE login_tokens SET used_ms = ? WHERE token_hash = ? AND kind = 'refresh'
        AND used_ms IS NULL`,
      nowMs,
      tokenHash,
    );
    return Promise.resolve(changed > 0);
  }
}
