/** What the relay checks of a session's open frame, and how its log names a session. */
import { Code, ConnectError } from "@connectrpc/connect";
import { type OpenSession, SessionKind } from "../../../gen/cmdop/v1/session_pb.ts";
import type { ClientPrincipal } from "../auth.ts";
import type { MachineRecord } from "../store/store.ts";

const MAX_ARGV_BYTES = 256 * 1024;

/** Kinds of session an agent may keep for its client to resume: terminals and commands. */
const RESUMABLE_KINDS = new Set([SessionKind.PTY, SessionKind.EXEC]);

/**
 * Whether the agent may keep the session when its stream is lost (the client asked for a
 * grace, or resumes one): then a dropped client is let go of, not hung up.
 */
export function resumableOpen(open: OpenSession): boolean {
  return RESUMABLE_KINDS.has(open.kind) && (open.resumeGraceMs > 0 || open.resume !== undefined);
}

/** Refuses an open frame the relay will not pass on (invalid_argument, naming the limit). */
export function validateOpen(open: OpenSession): void {
  if (!open.machineId) throw new ConnectError("machine_id is required", Code.InvalidArgument);
  if (!(open.kind in KIND_NAMES)) {
    throw new ConnectError(
      "session kind must be exec, pty, file_send, file_fetch or forward",
      Code.InvalidArgument,
    );
  }
  if (open.resume && (!RESUMABLE_KINDS.has(open.kind) || open.resume.token.length > 100)) {
    throw new ConnectError(
      "only a terminal or exec session can be resumed",
      Code.InvalidArgument,
    );
  }
  if (open.kind === SessionKind.EXEC && open.argv.length === 0) {
    throw new ConnectError("exec needs a command", Code.InvalidArgument);
  }
  const argvBytes = open.argv.reduce((n, a) => n + a.length, 0);
  if (argvBytes > MAX_ARGV_BYTES) {
    throw new ConnectError("command line is too long", Code.InvalidArgument);
  }
  if (open.rows > 10_000 || open.cols > 10_000) {
    throw new ConnectError("terminal size is out of range", Code.InvalidArgument);
  }
  if (open.kind === SessionKind.FILE_SEND || open.kind === SessionKind.FILE_FETCH) {
    const path = open.file?.path ?? "";
    if (!path || path.length > MAX_PATH_BYTES || path.includes("\0")) {
      throw new ConnectError(
        `a file copy needs a path of 1 to ${MAX_PATH_BYTES} bytes without NUL`,
        Code.InvalidArgument,
      );
    }
  }
  if (open.kind === SessionKind.FORWARD) {
    const host = open.forward?.host ?? "";
    const port = open.forward?.port ?? 0;
    if (!host || host.length > 253 || port < 1 || port > 65_535) {
      throw new ConnectError(
        "a forward needs a host (up to 253 characters) and a port from 1 to 65535",
        Code.InvalidArgument,
      );
    }
  }
}

/** The session kinds a relay passes on, as its log names them. */
const KIND_NAMES: Record<number, string> = {
  [SessionKind.EXEC]: "exec",
  [SessionKind.PTY]: "pty",
  [SessionKind.FILE_SEND]: "file send",
  [SessionKind.FILE_FETCH]: "file fetch",
  [SessionKind.FORWARD]: "forward",
};

/** Longest path a file copy may name (Linux's PATH_MAX). */
const MAX_PATH_BYTES = 4096;

/** The refusal of a session to a machine that is not online. */
export function offline(machine: MachineRecord, detail = "machine is offline"): ConnectError {
  return new ConnectError(
    `machine "${machine.displayName}" (${machine.hostname}) is offline: ${detail}`,
    Code.FailedPrecondition,
    { "cmdop-reason": "offline" },
  );
}

/** The log line that starts a session. */
export function sessionLine(
  principal: ClientPrincipal,
  machine: MachineRecord,
  open: OpenSession,
  sessionId: string,
): string {
  const kind = open.kind === SessionKind.FORWARD
    ? `forward to ${open.forward?.host}:${open.forward?.port}`
    : open.kind === SessionKind.FILE_SEND || open.kind === SessionKind.FILE_FETCH
    ? `${KIND_NAMES[open.kind]} ${JSON.stringify(open.file?.path ?? "")}`
    : open.resume
    ? `${KIND_NAMES[open.kind]} (resumed)`
    : KIND_NAMES[open.kind];
  const who = principal.kind === "share"
    ? `share ${principal.shareId}`
    : principal.kind === "machine"
    ? `machine ${principal.machineId} (${principal.hostname})`
    : principal.via;
  return `session ${sessionId}: ${kind} on ${machine.id} (${machine.hostname}) by ${who}`;
}
