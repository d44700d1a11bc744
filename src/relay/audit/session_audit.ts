/** A session's audit events: `session.start` once it reaches the agent, `session.end` with its result and bytes; `session.refused` when it never got there. */
import { type OpenSession, SessionKind } from "../../../gen/cmdop/v1/session_pb.ts";
import type { ClientPrincipal } from "../auth.ts";
import type { RelayDeps } from "../deps.ts";
import type { MachineRecord } from "../store/store.ts";
import { actorOf, peerOf } from "./audit_log.ts";

/** The session kinds as the audit log names them. */
const KINDS: Record<number, string> = {
  [SessionKind.EXEC]: "exec",
  [SessionKind.PTY]: "pty",
  [SessionKind.FILE_SEND]: "file_send",
  [SessionKind.FILE_FETCH]: "file_fetch",
  [SessionKind.FORWARD]: "forward",
};

/** What a session was opened for: its id and kind, and the argv, path or target. */
function sessionWhat(open: OpenSession, sessionId: string): Record<string, unknown> {
  const what: Record<string, unknown> = { session_id: sessionId, session_kind: KINDS[open.kind] };
  if (open.kind === SessionKind.EXEC) what.argv = open.argv;
  if (open.kind === SessionKind.FILE_SEND || open.kind === SessionKind.FILE_FETCH) {
    what.path = open.file?.path ?? "";
  }
  if (open.kind === SessionKind.FORWARD) {
    what.target = `${open.forward?.host ?? ""}:${open.forward?.port ?? 0}`;
  }
  return what;
}

/**
 * Records `session.refused`: a session asked of a machine the caller may reach that never got to
 * its agent (offline, unreachable, a read-only link asking to run something), with `reason`.
 * A wrong password is `password.failed` already; an unknown or unreachable machine id is not
 * the workspace's to be told of.
 *
 * @example
 * ```ts
 * auditRefusedSession(deps, principal, machine, open, sessionId, header, "machine is offline");
 * ```
 */
export function auditRefusedSession(
  deps: RelayDeps,
  principal: ClientPrincipal,
  machine: MachineRecord,
  open: OpenSession,
  sessionId: string,
  header: Headers,
  reason: string,
): void {
  deps.audit.record({
    workspaceId: machine.workspaceId,
    actor: actorOf(principal),
    peer: peerOf(header),
    machine,
    kind: "session.refused",
    detail: { ...sessionWhat(open, sessionId), reason },
  });
}

/** How a session's command ended, from its exit frame. */
export interface SessionExit {
  code: number;
  signal: string;
  timedOut: boolean;
  error: string;
}

/** Counts a session's payload bytes and writes its end event once. */
export interface SessionAudit {
  /** Output bytes delivered toward the client. */
  bytesOut: number;
  /** Input bytes (stdin, keystrokes, uploaded data) passed toward the agent. */
  bytesIn: number;
  exit?: SessionExit;
  /** Records `session.end` with `reason` (how the relay saw it end); later calls do nothing. */
  end(reason: string): void;
}

/**
 * Records `session.start` and returns the session's counters. Two rows per session, not one
 * at its end: a session still running, or one whose relay died, shows as a start with no end.
 *
 * @example
 * ```ts
 * const audit = auditSession(deps, principal, machine, open, sessionId, ctx.requestHeader);
 * audit.bytesOut += data.length;
 * audit.end("the command exited");
 * ```
 */
export function auditSession(
  deps: RelayDeps,
  principal: ClientPrincipal,
  machine: MachineRecord,
  open: OpenSession,
  sessionId: string,
  header: Headers,
): SessionAudit {
  const startedMs = deps.now();
  const common = {
    workspaceId: machine.workspaceId,
    actor: actorOf(principal),
    peer: peerOf(header),
    machine,
  };
  deps.audit.record({ ...common, kind: "session.start", detail: sessionWhat(open, sessionId) });
  let ended = false;
  const audit: SessionAudit = {
    bytesOut: 0,
    bytesIn: 0,
    end(reason) {
      if (ended) return;
      ended = true;
      const exit = audit.exit;
      deps.audit.record({
        ...common,
        kind: "session.end",
        detail: {
          session_id: sessionId,
          session_kind: KINDS[open.kind],
          exit_code: exit?.code,
          signal: exit?.signal || undefined,
          timed_out: exit?.timedOut || undefined,
          error: exit?.error || undefined,
          duration_ms: deps.now() - startedMs,
          bytes_in: audit.bytesIn,
          bytes_out: audit.bytesOut,
          reason,
        },
      });
    },
  };
  return audit;
}
