/** PostgresAuditStore: the audit log in the cluster's PostgreSQL database, one log for every node (migration 8). */
import type { Sql } from "postgres";
import { type AuditEvent, type AuditQuery, type AuditStore, MAX_PAGE } from "./audit_events.ts";
import { toAuditEvent } from "./audit_rows.ts";

/**
 * The `audit_events` table on the pool a `PostgresStore` opened; its rules turn UPDATE
 * and DELETE into nothing.
 *
 * @example
 * ```ts
 * const audit = new PostgresAuditStore((await openPostgresStore(url)).sql);
 * ```
 */
export class PostgresAuditStore implements AuditStore {
  #sql: Sql;

  constructor(sql: Sql) {
    this.#sql = sql;
  }

  async append(e: Omit<AuditEvent, "seq">): Promise<void> {
    await this.#sql`INSERT INTO audit_events (workspace_id, time_ms, kind, actor_kind, actor_id,
      peer, machine_id, machine_name, detail) VALUES (${e.workspaceId}, ${e.timeMs}, ${e.kind},
      ${e.actorKind}, ${e.actorId}, ${e.peer}, ${e.machineId}, ${e.machineName},
      ${JSON.stringify(e.detail)})`;
  }

  async list(q: AuditQuery): Promise<AuditEvent[]> {
    const sql = this.#sql;
    const workspace = q.workspaceId === undefined
      ? sql``
      : sql`AND workspace_id = ${q.workspaceId}`;
    const machine = q.machine
      ? sql`AND (machine_id = ${q.machine} OR lower(machine_name) = lower(${q.machine}))`
      : sql``;
    const after = q.after
      ? sql`AND (time_ms > ${q.after.timeMs} OR (time_ms = ${q.after.timeMs} AND seq > ${q.after.seq}))`
      : sql``;
    const rows = await sql`SELECT * FROM audit_events WHERE time_ms >= ${q.sinceMs}
      ${workspace} ${machine} ${after}
      ORDER BY time_ms, seq LIMIT ${Math.min(Math.max(q.limit, 1), MAX_PAGE)}`;
    return rows.map(toAuditEvent);
  }
}
