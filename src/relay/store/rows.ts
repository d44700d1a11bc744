/** Row → record mappers of the relay's tables, shared by the SQLite and PostgreSQL stores. */
import type { Labels } from "../../lib/labels.ts";
import type {
  CredentialRecord,
  MachineClientsSetting,
  MachineRecord,
  MachineTokenRecord,
  ShareRecord,
  WorkspaceRecord,
} from "./store.ts";

// Both schemas give these tables the same column names, so one mapper serves both drivers.
// PostgreSQL's BIGINT columns arrive as strings (they may exceed 2^53); unix ms never do,
// so Number() reads them exactly, as it does SQLite's integers.

/** A result row as either driver returns it: column name → value. */
export type StoreRow = Readonly<Record<string, unknown>>;

/**
 * A nullable integer column as a number, keeping SQL NULL as `null`.
 *
 * @example
 * ```ts
 * numberOrNull("1700000000000"); // 1700000000000
 * numberOrNull(null); // null
 * ```
 */
export function numberOrNull(value: unknown): number | null {
  return value === null ? null : Number(value);
}

/**
 * A nullable text column as a string, keeping SQL NULL as `null`.
 *
 * @example
 * ```ts
 * stringOrNull(null); // null
 * ```
 */
export function stringOrNull(value: unknown): string | null {
  return value === null ? null : String(value);
}

/**
 * A `workspaces` row, or `undefined` when there was none.
 *
 * @example
 * ```ts
 * toWorkspace({ id: "w1", name: "prod", created_ms: 1 }); // { id: "w1", name: "prod", createdMs: 1 }
 * ```
 */
export function toWorkspace(row: StoreRow | undefined): WorkspaceRecord | undefined {
  if (!row) return undefined;
  return { id: String(row.id), name: String(row.name), createdMs: Number(row.created_ms) };
}

/**
 * A `machines` row, or `undefined` when there was none.
 *
 * @example
 * ```ts
 * const machine = toMachine(db.prepare("SELECT * FROM machines WHERE id = ?").get(id));
 * ```
 */
export function toMachine(row: StoreRow | undefined): MachineRecord | undefined {
  if (!row) return undefined;
  return {
    id: String(row.id),
    workspaceId: String(row.workspace_id),
    hostname: String(row.hostname),
    displayName: String(row.display_name),
    os: String(row.os),
    arch: String(row.arch),
    agentVersion: String(row.agent_version),
    secretHash: String(row.secret_hash),
    passwordHash: stringOrNull(row.password_hash),
    createdMs: Number(row.created_ms),
    lastSeenMs: Number(row.last_seen_ms),
    labels: labelsOf(row.labels),
  };
}

/** The `labels` column: a JSON object of strings (absent before the migration that added it). */
function labelsOf(value: unknown): Labels {
  if (typeof value !== "string" || value === "") return {};
  const parsed = JSON.parse(value);
  return typeof parsed === "object" && parsed !== null ? parsed as Labels : {};
}

/**
 * The `machine_clients` and `machine_client_reach` columns of a `workspaces` row, each a
 * JSON array of label selectors; none when the row is missing.
 *
 * @example
 * ```ts
 * machineClientsOf({ machine_clients: '[{"role":"ci"}]', machine_client_reach: "[]" });
 * // { allowFrom: [{ role: "ci" }], reach: [] }
 * ```
 */
export function machineClientsOf(row: StoreRow | undefined): MachineClientsSetting {
  return {
    allowFrom: selectorsOf(row?.machine_clients),
    reach: selectorsOf(row?.machine_client_reach),
  };
}

/** A column holding a JSON array of label selectors; anything else reads as none. */
function selectorsOf(value: unknown): Labels[] {
  if (typeof value !== "string" || value === "") return [];
  const parsed = JSON.parse(value);
  return Array.isArray(parsed) ? parsed.filter((s) => typeof s === "object" && s !== null) : [];
}

/**
 * A `machine_tokens` row, or `undefined` when there was none.
 *
 * @example
 * ```ts
 * toMachineToken({ token_hash: "h", machine_id: "m1", expires_ms: "1700000000000" });
 * ```
 */
export function toMachineToken(row: StoreRow | undefined): MachineTokenRecord | undefined {
  if (!row) return undefined;
  return {
    tokenHash: String(row.token_hash),
    machineId: String(row.machine_id),
    expiresMs: Number(row.expires_ms),
  };
}

/**
 * A `shares` row, or `undefined` when there was none.
 *
 * @example
 * ```ts
 * const share = toShare((await sql`SELECT * FROM shares WHERE token_hash = ${hash}`)[0]);
 * ```
 */
export function toShare(row: StoreRow | undefined): ShareRecord | undefined {
  if (!row) return undefined;
  return {
    id: String(row.id),
    workspaceId: String(row.workspace_id),
    machineId: String(row.machine_id),
    tokenHash: String(row.token_hash),
    createdMs: Number(row.created_ms),
    expiresMs: Number(row.expires_ms),
    revokedMs: numberOrNull(row.revoked_ms),
    readOnly: Boolean(row.read_only),
    owner: String(row.owner ?? ""),
  };
}

/**
 * A row of the credentials listing (`kind`, `hash`, `created_ms`, `expires_ms`).
 *
 * @example
 * ```ts
 * toCredential({ kind: "api_key", hash: "ab12…", created_ms: 1, expires_ms: 0 });
 * ```
 */
export function toCredential(row: StoreRow): CredentialRecord {
  return {
    kind: row.kind === "api_key" ? "api_key" : "enroll_token",
    fingerprint: String(row.hash).slice(0, 12),
    createdMs: Number(row.created_ms),
    expiresMs: Number(row.expires_ms),
  };
}
