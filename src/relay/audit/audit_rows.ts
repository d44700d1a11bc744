/** Database rows of `audit_events` as {@linkcode AuditEvent}s, alike for SQLite and PostgreSQL. */
import type { AuditActorKind, AuditEvent } from "./audit_events.ts";

/**
 * One row (column names as in both schemas) as an event.
 *
 * @example
 * ```ts
 * const events = rows.map(toAuditEvent);
 * ```
 */
export function toAuditEvent(row: Record<string, unknown>): AuditEvent {
  let detail: Record<string, unknown> = {};
  try {
    detail = JSON.parse(String(row.detail));
  } catch {
    // Only ever written as JSON; an unreadable one is shown empty rather than failing a listing.
  }
  return {
    seq: Number(row.seq),
    workspaceId: String(row.workspace_id),
    timeMs: Number(row.time_ms),
    kind: String(row.kind),
    actorKind: String(row.actor_kind) as AuditActorKind,
    actorId: String(row.actor_id),
    peer: String(row.peer),
    machineId: String(row.machine_id),
    machineName: String(row.machine_name),
    detail,
  };
}
