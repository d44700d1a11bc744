/** Row → record mappers and column names of the login tables, shared by the SQLite and PostgreSQL login stores. */
import { numberOrNull, type StoreRow, stringOrNull } from "../store/rows.ts";
import type {
  DeviceCodeChange,
  DeviceCodeRecord,
  DeviceCodeStatus,
  LoginTokenRecord,
  UserRecord,
} from "./login_store.ts";

/**
 * Expired device codes are kept this long (so a poll that was already under way still
 * reads expired_token), then dropped: anyone may create them, so none may pile up.
 */
export const DEVICE_CODE_KEEP_MS = 60_000;

/** The `device_codes` column of each field a {@linkcode DeviceCodeChange} may set. */
export const DEVICE_CODE_COLUMNS: Readonly<Record<keyof DeviceCodeChange, string>> = {
  status: "status",
  userId: "user_id",
  lastPollMs: "last_poll_ms",
  intervalS: "interval_s",
};

/**
 * A `users` row, or `undefined` when there was none.
 *
 * @example
 * ```ts
 * const user = toUser((await sql`SELECT * FROM users WHERE email = ${email}`)[0]);
 * ```
 */
export function toUser(row: StoreRow | undefined): UserRecord | undefined {
  if (!row) return undefined;
  return {
    id: String(row.id),
    email: String(row.email),
    passwordHash: String(row.password_hash),
    createdMs: Number(row.created_ms),
  };
}

/**
 * A `device_codes` row, or `undefined` when there was none.
 *
 * @example
 * ```ts
 * const code = toDeviceCode(statements.get("SELECT * FROM device_codes WHERE user_code = ?", c));
 * ```
 */
export function toDeviceCode(row: StoreRow | undefined): DeviceCodeRecord | undefined {
  if (!row) return undefined;
  return {
    deviceCodeHash: String(row.device_code_hash),
    userCode: String(row.user_code),
    clientId: String(row.client_id),
    createdMs: Number(row.created_ms),
    expiresMs: Number(row.expires_ms),
    intervalS: Number(row.interval_s),
    lastPollMs: numberOrNull(row.last_poll_ms),
    status: String(row.status) as DeviceCodeStatus,
    userId: stringOrNull(row.user_id),
  };
}

/**
 * A `login_tokens` row joined with its grant's `user_id` and `revoked_ms`, or `undefined`.
 *
 * @example
 * ```ts
 * const token = toLoginToken(
 *   (await sql`SELECT t.*, g.user_id, g.revoked_ms FROM login_tokens t
 *     JOIN login_grants g ON g.id = t.grant_id WHERE t.token_hash = ${hash}`)[0],
 * );
 * ```
 */
export function toLoginToken(row: StoreRow | undefined): LoginTokenRecord | undefined {
  if (!row) return undefined;
  return {
    tokenHash: String(row.token_hash),
    kind: row.kind === "refresh" ? "refresh" : "access",
    grantId: String(row.grant_id),
    userId: String(row.user_id),
    expiresMs: Number(row.expires_ms),
    usedMs: numberOrNull(row.used_ms),
    grantRevokedMs: numberOrNull(row.revoked_ms),
  };
}
