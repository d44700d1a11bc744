/** The relay's audit log: what one event holds, the store that appends and lists them, and their caps. */

/** Who did it: never a secret, only what names the credential. */
export type AuditActorKind =
  /** An API key, named by its fingerprint (the first 12 hex digits of its SHA-256). */
  | "api_key"
  /** A `cmdop login` user, by user id. */
  | "login"
  /** A share link, by share id. */
  | "share"
  /** A machine acting as a client with its own credential, by machine id. */
  | "machine"
  /** An enroll token, by fingerprint (an agent enrolling). */
  | "enroll_token"
  /** `cmdop relay …` run on the relay's host against its store. */
  | "operator";

/** One row of the audit log. */
export interface AuditEvent {
  /** Assigned by the store on append; orders events of the same millisecond. */
  seq: number;
  workspaceId: string;
  timeMs: number;
  /** `session.start`, `session.end`, `share.created`, … (see README "Audit log"). */
  kind: string;
  actorKind: AuditActorKind;
  actorId: string;
  /** The client's address as the relay saw it; "" when there is none (operator verbs). */
  peer: string;
  /** "" when the event concerns no machine. */
  machineId: string;
  /** The machine's hostname when the event happened (it may be renamed or removed later). */
  machineName: string;
  /** Kind-specific facts: session kind, argv, exit code, bytes, reason, … */
  detail: Record<string, unknown>;
}

/** An event before the store numbers it. */
export type NewAuditEvent = Omit<AuditEvent, "seq">;

/** Which events {@linkcode AuditStore.list} returns, oldest first. */
export interface AuditQuery {
  /** Undefined only for the operator, who may read every workspace. */
  workspaceId?: string;
  /** Events at or after this time. */
  sinceMs: number;
  /** A machine id or a hostname it had (ignoring case). */
  machine?: string;
  /** Events strictly after this one (time, then seq): where the previous page ended. */
  after?: { timeMs: number; seq: number };
  limit: number;
}

/**
 * Where audit events are kept: beside the relay's state, in the same database. Append and
 * list only: nothing the relay serves can change or delete an event.
 */
export interface AuditStore {
  append(event: NewAuditEvent): Promise<void>;
  list(query: AuditQuery): Promise<AuditEvent[]>;
}

/** Longest detail JSON a row holds; past it the detail is cut down (see {@linkcode boundedDetail}). */
export const MAX_DETAIL_BYTES = 8 * 1024;
/** Longest text of one field (an argv word, a path, a reason); longer ones are cut with a mark. */
export const MAX_FIELD_CHARS = 1024;
/** Most argv words kept of an exec. */
export const MAX_ARGV_WORDS = 64;
/** Most events one ListEvents page returns. */
export const MAX_PAGE = 1000;

/**
 * The detail as stored: text fields cut to {@linkcode MAX_FIELD_CHARS}, argv to
 * {@linkcode MAX_ARGV_WORDS} words, and the whole kept under {@linkcode MAX_DETAIL_BYTES}
 * (argv first, then every string, is dropped to its length when it still does not fit),
 * so no client can make one row large.
 *
 * @example
 * ```ts
 * const json = boundedDetail({ argv: ["uname", "-a"], exit_code: 0 });
 * ```
 */
export function boundedDetail(detail: Record<string, unknown>): string {
  const cut = (text: string) =>
    text.length > MAX_FIELD_CHARS ? `${text.slice(0, MAX_FIELD_CHARS)}…(${text.length})` : text;
  const shaped: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(detail)) {
    if (value === undefined) continue;
    if (typeof value === "string") shaped[key] = cut(value);
    else if (Array.isArray(value)) {
      const words = value.slice(0, MAX_ARGV_WORDS).map((w) => cut(String(w)));
      if (value.length > MAX_ARGV_WORDS) words.push(`…(${value.length} words)`);
      shaped[key] = words;
    } else shaped[key] = value;
  }
  let json = JSON.stringify(shaped);
  if (utf8Length(json) <= MAX_DETAIL_BYTES) return json;
  const lists = new Set<string>();
  for (const [key, value] of Object.entries(shaped)) {
    if (!Array.isArray(value)) continue;
    shaped[key] = `(${value.length} words, too long to keep)`;
    lists.add(key);
  }
  json = JSON.stringify(shaped);
  if (utf8Length(json) <= MAX_DETAIL_BYTES) return json;
  for (const [key, value] of Object.entries(shaped)) {
    if (typeof value === "string" && !lists.has(key)) {
      shaped[key] = `(${value.length} characters)`;
    }
  }
  return JSON.stringify(shaped);
}

function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}

/**
 * An event as `cmdop connect audit --json` prints it and a SIEM reads it: one flat JSON
 * object, times in ISO 8601 and unix ms.
 *
 * @example
 * ```ts
 * console.log(JSON.stringify(auditJson(event)));
 * ```
 */
export function auditJson(event: AuditEvent): Record<string, unknown> {
  return {
    time: new Date(event.timeMs).toISOString(),
    time_ms: event.timeMs,
    seq: event.seq,
    workspace_id: event.workspaceId,
    kind: event.kind,
    actor_kind: event.actorKind,
    actor_id: event.actorId,
    peer: event.peer,
    machine_id: event.machineId,
    machine: event.machineName,
    detail: event.detail,
  };
}
