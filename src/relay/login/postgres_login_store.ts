/** PostgresLoginStore: login state in the cluster's PostgreSQL database, beside the main store. */
import type { Sql } from "postgres";
import { toWorkspace } from "../store/rows.ts";
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
 * The login tables of PostgreSQL migration 3, on the pool a `PostgresStore` opened.
 * Every node of a cluster reads the same rows, so a login started on one node can be
 * approved on another and refreshed on a third.
 *
 * @example
 * ```ts
 * const store = await openPostgresStore(url);
 * const logins = new PostgresLoginStore(store.sql);
 * ```
 */
export class PostgresLoginStore implements LoginStore {
  #sql: Sql;

  constructor(sql: Sql) {
    this.#sql = sql;
  }

  async insertUser(user: UserRecord): Promise<void> {
    try {
      await this.#sql`INSERT INTO users (id, email, password_hash, created_ms)
        VALUES (${user.id}, ${user.email}, ${user.passwordHash}, ${user.createdMs})`;
    } catch (error) {
      if ((error as { code?: string }).code === "23505") {
        throw new ConflictError(`user "${user.email}" already exists`);
      }
      throw error;
    }
  }

  async userByEmail(email: string): Promise<UserRecord | undefined> {
    return toUser((await this.#sql`SELECT * FROM users WHERE email = ${email}`)[0]);
  }

  async userById(id: string): Promise<UserRecord | undefined> {
    return toUser((await this.#sql`SELECT * FROM users WHERE id = ${id}`)[0]);
  }

  async setUserPassword(userId: string, passwordHash: string): Promise<void> {
    await this.#sql`UPDATE users SET password_hash = ${passwordHash} WHERE id = ${userId}`;
  }

  async grantWorkspace(userId: string, workspaceId: string, nowMs: number): Promise<void> {
    await this.#sql`INSERT INTO user_workspaces (user_id, workspace_id, created_ms)
      VALUES (${userId}, ${workspaceId}, ${nowMs}) ON CONFLICT DO NOTHING`;
  }

  async userWorkspaces(userId: string): Promise<WorkspaceRecord[]> {
    const rows = await this.#sql`SELECT w.* FROM workspaces w
      JOIN user_workspaces u ON u.workspace_id = w.id
      WHERE u.user_id = ${userId} ORDER BY w.name`;
    return rows.map((r) => toWorkspace(r)!);
  }

  async insertDeviceCode(c: DeviceCodeRecord): Promise<void> {
    await this.#sql`DELETE FROM device_codes
      WHERE expires_ms < ${c.createdMs - DEVICE_CODE_KEEP_MS}`;
    await this.#sql`INSERT INTO device_codes (device_code_hash, user_code, client_id,
        created_ms, expires_ms, interval_s, last_poll_ms, status, user_id)
      VALUES (${c.deviceCodeHash}, ${c.userCode}, ${c.clientId}, ${c.createdMs},
        ${c.expiresMs}, ${c.intervalS}, ${c.lastPollMs}, ${c.status}, ${c.userId})`;
  }

  async deviceCodeByHash(hash: string): Promise<DeviceCodeRecord | undefined> {
    const rows = await this.#sql`SELECT * FROM device_codes WHERE device_code_hash = ${hash}`;
    return toDeviceCode(rows[0]);
  }

  async deviceCodeByUserCode(userCode: string): Promise<DeviceCodeRecord | undefined> {
    const rows = await this.#sql`SELECT * FROM device_codes WHERE user_code = ${userCode}`;
    return toDeviceCode(rows[0]);
  }

  async updateDeviceCode(hash: string, change: DeviceCodeChange): Promise<void> {
    const row: Record<string, string | number | null> = {};
    for (const [key, value] of Object.entries(change)) {
      if (value !== undefined) row[DEVICE_CODE_COLUMNS[key as keyof DeviceCodeChange]] = value;
    }
    if (Object.keys(row).length === 0) return;
    await this.#sql`UPDATE device_codes SET ${this.#sql(row)}
      WHERE device_code_hash = ${hash}`;
  }

  async consumeDeviceCode(hash: string): Promise<boolean> {
    // Row locking re-checks the status, so of two nodes polling at once only one consumes it.
    const result = await this.#sql`UPDATE device_codes SET status = 'consumed'
      WHERE device_code_hash = ${hash} AND status = 'approved'`;
    return result.count > 0;
  }

  async insertGrant(id: string, userId: string, createdMs: number): Promise<void> {
    await this.#sql`INSERT INTO login_grants (id, user_id, created_ms, revoked_ms)
      VALUES (${id}, ${userId}, ${createdMs}, NULL)`;
  }

  async revokeGrant(id: string, nowMs: number): Promise<void> {
    await this.#sql`UPDATE login_grants SET revoked_ms = COALESCE(revoked_ms, ${nowMs})
      WHERE id = ${id}`;
  }

  async insertLoginToken(
    t: Omit<LoginTokenRecord, "usedMs" | "grantRevokedMs" | "userId">,
  ): Promise<void> {
    await this.#sql`INSERT INTO login_tokens (token_hash, kind, grant_id, expires_ms, used_ms)
      VALUES (${t.tokenHash}, ${t.kind}, ${t.grantId}, ${t.expiresMs}, NULL)`;
  }

  async loginToken(tokenHash: string): Promise<LoginTokenRecord | undefined> {
    const [row] = await this.#sql`SELECT t.*, g.user_id, g.revoked_ms FROM login_tokens t
      JOIN login_grants g ON g.id = t.grant_id WHERE t.token_hash = ${tokenHash}`;
    return toLoginToken(row);
  }

  async useRefreshToken(tokenHash: string, nowMs: number): Promise<boolean> {
    const result = await this.#sql`UPDATE login_tokens SET used_ms = ${nowMs}
      WHERE token_hash = ${tokenHash} AND kind = 'refresh' AND used_ms IS NULL`;
    return result.count > 0;
  }
}
