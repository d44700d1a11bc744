/** SqliteAuditStore: the audit log in the embedded relay's SQLite database (migration 7). */
import type { DatabaseSync, SQLInputValue } from "node:sqlite";
import { SqliteStatements } from "../store/sqlite_db.ts";
import { type AuditEvent, type AuditQuery, type AuditStore, MAX_PAGE } from "./audit_events.ts";
import { toAuditEvent } from "./audit_rows.ts";

/**
 * The `audit_events` table on the database a `SqliteStore` opened; its triggers refuse
 * UPDATE and DELETE, so even a bug here cannot rewrite history.
 *
 * @example
 * ```ts
 * const audit = new SqliteAuditStore((await openSqliteStore(dir)).db);
 * ```
 */
export class SqliteAuditStore implements AuditStore {
  #sql: SqliteStatements;

  constructor(db: DatabaseSync) {
    this.#sql = new SqliteStatements(db);
  }

  append(e: Omit<AuditEvent, "seq">): Promise<void> {
    this.#sql.run(
      `INSERT INTO audit_events (workspace_id, time_ms, kind, actor_kind, actor_id, peer,
        machine_id, machine_name, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      e.workspaceId,
      e.timeMs,
      e.kind,
      e.actorKind,
      e.actorId,
      e.peer,
      e.machineId,
      e.machineName,
      JSON.stringify(e.detail),
    );
    return Promise.resolve();
  }

  list(q: AuditQuery): Promise<AuditEvent[]> {
    const where = ["time_ms >= ?"];
    const params: SQLInputValue[] = [q.sinceMs];
    if (q.workspaceId !== undefined) {
      where.push("workspace_id = ?");
      params.push(q.workspaceId);
    }
    if (q.machine) {
      where.push("(machine_id = ? OR lower(machine_name) = lower(?))");
      params.push(q.machine, q.machine);
    }
    if (q.after) {
      where.push("(time_ms > ? OR (time_ms = ? AND seq > ?))");
      params.push(q.after.timeMs, q.after.timeMs, q.after.seq);
    }
    const rows = this.#sql.all(
      `SELECT * FROM audit_events WHERE ${where.join(" AND ")} ORDER BY time_ms, seq LIMIT ?`,
      ...params,
      Math.min(Math.max(q.limit, 1), MAX_PAGE),
    );
    return Promise.resolve(rows.map(toAuditEvent));
  }
}
