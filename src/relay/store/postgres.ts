/** PostgresStore: the relay cluster's shared state in PostgreSQL (npm `postgres`), migrated at start. */
import postgres, { type Sql, type TransactionSql } from "postgres";
import { ATTEMPT_KEEP_MS, type AttemptRule, lockoutMs } from "../rate_limit.ts";
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
import { POSTGRES_MIGRATIONS } from "./schema.ts";
import {
  machineClientsOf,
  toCredential,
  toMachine,
  toMachineToken,
  toShare,
  toWorkspace,
} from "./rows.ts";

/** Key of the advisory lock that serialises migrations across nodes starting together. */
const MIGRATION_LOCK_KEY = 0x636d646f70; // "cmdop"

/** Options of {@linkcode openPostgresStore}. */
export interface PostgresStoreOptions {
  /** Connections in this process's pool. */
  maxConnections?: number;
  log?: (message: string) => void;
}

/**
 * Connects to `url` and brings its schema up to date. Several nodes may start
 * at once: an advisory lock makes one migrate while the others wait, then find
 * nothing left to do.
 *
 * @example
 * ```ts
 * const store = await openPostgresStore("postgres://cmdop@db/cmdop");
 * ```
 */
export async function openPostgresStore(
  url: string,
  options: PostgresStoreOptions = {},
): Promise<PostgresStore> {
  const sql = postgres(url, {
    max: options.maxConnections ?? 10,
    connect_timeout: 10,
    onnotice: () => {},
    // Pooled connections must not outlive a relay restart on the server's side.
    idle_timeout: 60,
  });
  try {
    const applied = await migrate(sql);
    if (applied > 0) {
      options.log?.(`database schema migrated to version ${POSTGRES_MIGRATIONS.length}`);
    }
  } catch (error) {
    await sql.end({ timeout: 1 }).catch(() => {});
    throw new Error(`cannot open the PostgreSQL store: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return new PostgresStore(sql);
}

/** The first key of the advisory lock under which a workspace's machine names change (the second: the workspace). */
const NAMES_LOCK_CLASS = 0x636d6e;

/** Another machine of the workspace (not `exceptId`) answering to one of `names`, ignoring case. */
async function namedIn(
  sql: Sql | TransactionSql,
  workspaceId: string,
  names: string[],
  exceptId: string,
): Promise<MachineRecord | undefined> {
  const lower = sql.array([...new Set(names.map((n) => n.toLowerCase()))]);
  const [row] = await sql`SELECT * FROM machines
    WHERE workspace_id = ${workspaceId} AND id <> ${exceptId}
      AND (lower(hostname) = ANY(${lower}::text[]) OR lower(display_name) = ANY(${lower}::text[]))
    LIMIT 1`;
  return toMachine(row);
}

/** Runs the missing migrations in one transaction under the advisory lock; returns how many ran. */
async function migrate(sql: Sql): Promise<number> {
  return await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${String(MIGRATION_LOCK_KEY)}::bigint)`;
    await tx`CREATE TABLE IF NOT EXISTS cmdop_schema (
      version INTEGER PRIMARY KEY, applied_ms BIGINT NOT NULL)`;
    const [{ current }] =
      await tx`SELECT COALESCE(MAX(version), 0)::int AS current FROM cmdop_schema`;
    if (current > POSTGRES_MIGRATIONS.length) {
      throw new Error(
        `database schema version ${current} is newer than this cmdop (${POSTGRES_MIGRATIONS.length})`,
      );
    }
    for (let version = current; version < POSTGRES_MIGRATIONS.length; version++) {
      await tx.unsafe(POSTGRES_MIGRATIONS[version]).simple();
      await tx`INSERT INTO cmdop_schema (version, applied_ms) VALUES (${
        version + 1
      }, ${Date.now()})`;
    }
    return POSTGRES_MIGRATIONS.length - current;
  });
}

/**
 * {@linkcode Store} on PostgreSQL; every method is one statement (or one transaction).
 *
 * @example
 * ```ts
 * const store = await openPostgresStore(url);
 * await store.workspaceByName("prod");
 * ```
 */
export class PostgresStore implements Store {
  #sql: Sql;

  constructor(sql: Sql) {
    this.#sql = sql;
  }

  /** The connection pool, shared with the cluster's presence table. */
  get sql(): Sql {
    return this.#sql;
  }

  async insertWorkspace(w: WorkspaceRecord): Promise<void> {
    try {
      await this.#sql`INSERT INTO workspaces (id, name, created_ms)
        VALUES (${w.id}, ${w.name}, ${w.createdMs})`;
    } catch (error) {
      if ((error as { code?: string }).code === "23505") {
        throw new ConflictError(`workspace "${w.name}" already exists`);
      }
      throw error;
    }
  }

  async workspaceById(id: string): Promise<WorkspaceRecord | undefined> {
    return toWorkspace((await this.#sql`SELECT * FROM workspaces WHERE id = ${id}`)[0]);
  }

  async workspaceByName(name: string): Promise<WorkspaceRecord | undefined> {
    return toWorkspace((await this.#sql`SELECT * FROM workspaces WHERE name = ${name}`)[0]);
  }

  async listWorkspaces(): Promise<WorkspaceRecord[]> {
    const rows = await this.#sql`SELECT * FROM workspaces ORDER BY name`;
    return rows.map((r) => toWorkspace(r)!);
  }

  async machineClients(workspaceId: string): Promise<MachineClientsSetting> {
    const [row] = await this.#sql`SELECT machine_clients, machine_client_reach
      FROM workspaces WHERE id = ${workspaceId}`;
    return machineClientsOf(row);
  }

  async setMachineClients(workspaceId: string, setting: MachineClientsSetting): Promise<boolean> {
    const changed = await this.#sql`UPDATE workspaces
      SET machine_clients = ${JSON.stringify(setting.allowFrom)},
        machine_client_reach = ${JSON.stringify(setting.reach)}
      WHERE id = ${workspaceId}`;
    return changed.count > 0;
  }

  async insertApiKey(workspaceId: string, keyHash: string, createdMs: number): Promise<void> {
    await this.#sql`INSERT INTO api_keys (key_hash, workspace_id, created_ms)
      VALUES (${keyHash}, ${workspaceId}, ${createdMs})`;
  }

  async workspaceIdByApiKey(keyHash: string): Promise<string | undefined> {
    const [row] = await this.#sql`SELECT workspace_id FROM api_keys WHERE key_hash = ${keyHash}`;
    return row ? String(row.workspace_id) : undefined;
  }

  async insertEnrollToken(
    workspaceId: string,
    tokenHash: string,
    createdMs: number,
    expiresMs = 0,
  ): Promise<void> {
    await this.#sql`INSERT INTO enroll_tokens (token_hash, workspace_id, created_ms, expires_ms)
      VALUES (${tokenHash}, ${workspaceId}, ${createdMs}, ${expiresMs})`;
  }

  async workspaceIdByEnrollToken(tokenHash: string, nowMs: number): Promise<string | undefined> {
    const [row] = await this.#sql`SELECT workspace_id FROM enroll_tokens
      WHERE token_hash = ${tokenHash} AND (expires_ms = 0 OR expires_ms > ${nowMs})`;
    return row ? String(row.workspace_id) : undefined;
  }

  async deleteApiKeys(workspaceId: string, hashPrefix: string): Promise<number> {
    const result = await this.#sql`DELETE FROM api_keys WHERE workspace_id = ${workspaceId}
      AND left(key_hash, ${hashPrefix.length}) = ${hashPrefix}`;
    return result.count;
  }

  async deleteEnrollTokens(workspaceId: string, hashPrefix: string): Promise<number> {
    const result = await this.#sql`DELETE FROM enroll_tokens WHERE workspace_id = ${workspaceId}
      AND left(token_hash, ${hashPrefix.length}) = ${hashPrefix}`;
    return result.count;
  }

  async listCredentials(workspaceId: string): Promise<CredentialRecord[]> {
    const rows = await this.#sql`
      SELECT 'api_key' AS kind, key_hash AS hash, created_ms, 0::bigint AS expires_ms
        FROM api_keys WHERE workspace_id = ${workspaceId}
      UNION ALL
      SELECT 'enroll_token', token_hash, created_ms, expires_ms
        FROM enroll_tokens WHERE workspace_id = ${workspaceId}
      ORDER BY created_ms`;
    return rows.map(toCredential);
  }

  async insertMachine(m: MachineRecord): Promise<MachineRecord | undefined> {
    return await this.#sql.begin(async (tx) => {
      // Enrollments and renames of one workspace take turns: the name check and the write
      // happen with no other one in between, on any node.
      await tx`SELECT pg_advisory_xact_lock(${NAMES_LOCK_CLASS}, hashtext(${m.workspaceId}))`;
      const other = await namedIn(tx, m.workspaceId, [m.hostname, m.displayName], m.id);
      if (other) return other;
      await tx`INSERT INTO machines (id, workspace_id, hostname, display_name, os, arch,
          agent_version, secret_hash, password_hash, created_ms, last_seen_ms, labels)
        VALUES (${m.id}, ${m.workspaceId}, ${m.hostname}, ${m.displayName}, ${m.os}, ${m.arch},
          ${m.agentVersion}, ${m.secretHash}, ${m.passwordHash}, ${m.createdMs}, ${m.lastSeenMs},
          ${JSON.stringify(m.labels)})`;
      return undefined;
    });
  }

  async machineById(id: string): Promise<MachineRecord | undefined> {
    return toMachine((await this.#sql`SELECT * FROM machines WHERE id = ${id}`)[0]);
  }

  async listMachines(workspaceId: string): Promise<MachineRecord[]> {
    const rows = await this.#sql`SELECT * FROM machines WHERE workspace_id = ${workspaceId}
      ORDER BY display_name, hostname`;
    return rows.map((r) => toMachine(r)!);
  }

  async updateMachineInfo(id: string, info: MachineInfo): Promise<MachineRecord | undefined> {
    return await this.#sql.begin(async (tx) => {
      const [own] = await tx`SELECT * FROM machines WHERE id = ${id}`;
      if (!own) return undefined;
      // Names it already has are not checked again: a rename is what may take another's.
      if (own.hostname !== info.hostname || own.display_name !== info.displayName) {
        const workspaceId = String(own.workspace_id);
        await tx`SELECT pg_advisory_xact_lock(${NAMES_LOCK_CLASS}, hashtext(${workspaceId}))`;
        const other = await namedIn(tx, workspaceId, [info.hostname, info.displayName], id);
        if (other) return other;
      }
      await tx`UPDATE machines SET hostname = ${info.hostname},
          display_name = ${info.displayName}, os = ${info.os}, arch = ${info.arch},
          agent_version = ${info.agentVersion}, labels = ${JSON.stringify(info.labels)}
        WHERE id = ${id}`;
      return undefined;
    });
  }

  async machineNamed(
    workspaceId: string,
    names: string[],
    exceptId: string,
  ): Promise<MachineRecord | undefined> {
    return await namedIn(this.#sql, workspaceId, names, exceptId);
  }

  async deleteMachine(workspaceId: string, machineId: string): Promise<boolean> {
    return await this.#sql.begin(async (tx) => {
      const [owned] = await tx`SELECT id FROM machines
        WHERE workspace_id = ${workspaceId} AND id = ${machineId} FOR UPDATE`;
      if (!owned) return false;
      await tx`DELETE FROM shares WHERE machine_id = ${machineId}`;
      await tx`DELETE FROM machine_tokens WHERE machine_id = ${machineId}`;
      await tx`DELETE FROM machines WHERE id = ${machineId}`;
      return true;
    });
  }

  async takeAttempt(key: string, rule: AttemptRule, nowMs: number): Promise<number> {
    return await this.#sql.begin(async (tx) => {
      // The row lock serialises every node's attempts on this key until the count is written.
      await tx`INSERT INTO attempts (key, failures, locked_until_ms, updated_ms)
        VALUES (${key}, 0, 0, ${nowMs}) ON CONFLICT (key) DO NOTHING`;
      const [row] = await tx`SELECT failures, locked_until_ms FROM attempts
        WHERE key = ${key} FOR UPDATE`;
      const lockedUntil = Number(row.locked_until_ms);
      if (lockedUntil > nowMs) return lockedUntil - nowMs;
      const failures = Number(row.failures) + 1;
      await tx`UPDATE attempts SET failures = ${failures},
          locked_until_ms = ${nowMs + lockoutMs(rule, failures)}, updated_ms = ${nowMs}
        WHERE key = ${key}`;
      if (Math.random() < 0.01) {
        await tx`DELETE FROM attempts WHERE updated_ms < ${nowMs - ATTEMPT_KEEP_MS}`;
      }
      return 0;
    });
  }

  async settleAttempt(key: string, outcome: AttemptOutcome, nowMs = 0): Promise<void> {
    if (outcome === "forget") await this.#sql`DELETE FROM attempts WHERE key = ${key}`;
    else if (outcome === "refund") {
      await this.#sql`UPDATE attempts SET failures = GREATEST(failures - 1, 0) WHERE key = ${key}`;
    } else {
      await this.#sql`UPDATE attempts
        SET locked_until_ms = ${nowMs} + (locked_until_ms - updated_ms), updated_ms = ${nowMs}
        WHERE key = ${key}`;
    }
  }

  async touchMachines(ids: string[], lastSeenMs: number): Promise<void> {
    if (ids.length === 0) return;
    await this.#sql`UPDATE machines SET last_seen_ms = ${lastSeenMs}
      WHERE id = ANY(${this.#sql.array(ids)}::text[])`;
  }

  async setMachinePassword(id: string, passwordHash: string | null): Promise<void> {
    await this.#sql`UPDATE machines SET password_hash = ${passwordHash} WHERE id = ${id}`;
  }

  async insertMachineToken(t: MachineTokenRecord): Promise<void> {
    await this.#sql`INSERT INTO machine_tokens (token_hash, machine_id, expires_ms)
      VALUES (${t.tokenHash}, ${t.machineId}, ${t.expiresMs})`;
  }

  async machineToken(tokenHash: string): Promise<MachineTokenRecord | undefined> {
    const [row] = await this.#sql`SELECT * FROM machine_tokens WHERE token_hash = ${tokenHash}`;
    return toMachineToken(row);
  }

  async insertShare(s: ShareRecord): Promise<void> {
    await this.#sql`INSERT INTO shares (id, workspace_id, machine_id, token_hash, created_ms,
        expires_ms, revoked_ms, read_only, owner)
      VALUES (${s.id}, ${s.workspaceId}, ${s.machineId}, ${s.tokenHash}, ${s.createdMs},
        ${s.expiresMs}, ${s.revokedMs}, ${s.readOnly}, ${s.owner})`;
  }

  async shareByToken(tokenHash: string): Promise<ShareRecord | undefined> {
    return toShare((await this.#sql`SELECT * FROM shares WHERE token_hash = ${tokenHash}`)[0]);
  }

  async listShares(workspaceId: string): Promise<ShareRecord[]> {
    const rows = await this.#sql`SELECT * FROM shares WHERE workspace_id = ${workspaceId}
      ORDER BY created_ms`;
    return rows.map((r) => toShare(r)!);
  }

  async revokeShare(workspaceId: string, shareId: string, nowMs: number): Promise<boolean> {
    const result = await this.#sql`UPDATE shares SET revoked_ms = COALESCE(revoked_ms, ${nowMs})
      WHERE workspace_id = ${workspaceId} AND id = ${shareId}`;
    return result.count > 0;
  }

  async ping(): Promise<void> {
    await this.#sql`SELECT 1`;
  }

  async close(): Promise<void> {
    await this.#sql.end({ timeout: 5 });
  }
}
