/** openResumableSession: a terminal or exec session that outlives a dropped connection, resumed where it left off. */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { OpenSessionSchema, SessionOutput } from "../../gen/cmdop/v1/session_pb.ts";
// Plain constants: the generated module would load protobuf-es (~20 ms) into exec's start.
import { SESSION_KIND as SessionKind } from "../lib/wire/session_codec.ts";
import { ConnectCode, isConnectError } from "../lib/connect_errors.ts";
import { CliError, ExitCode } from "./errors.ts";
import type { RelayConnection } from "./relay_client.ts";
import { type OpenedSession, openSession, type PasswordSource } from "./session_client.ts";
import { ReplayBuffer } from "../lib/replay_buffer.ts";

/**
 * What a client asks to be kept for: the agent grants up to its own `--resume-grace`
 * (5 minutes unless its operator chose otherwise) and says how long in `Ready`.
 */
const REQUESTED_GRACE_MS = 86_400_000;
/** Waits between resume attempts: doubling from the first to the last. */
const FIRST_RETRY_MS = 250;
const LAST_RETRY_MS = 5_000;
/**
 * Input typed while the connection is down, kept to send once it is back; past it, typing
 * waits (the keys stay in the terminal's own buffer). Input sent but not yet acknowledged
 * is bounded by the agent's input window besides.
 */
const MAX_HELD_INPUT_BYTES = 64 * 1024;

/** Told as the connection drops and comes back, to show it on the screen. */
export interface ResumeEvents {
  /** The connection dropped; resuming is tried until `deadline` (epoch ms). */
  lost(reason: string, deadline: number): void | Promise<void>;
  /** Resumed: output continues where it stopped. */
  resumed(): void | Promise<void>;
}

/**
 * Opens a terminal or exec session (`open.kind`) the agent keeps when the connection drops,
 * and resumes it when that happens: reconnecting with backoff within the grace the agent
 * granted, from the output byte the client got to, sending again the input the agent had
 * not received (and the end of input, once given). Output arrives once and in order; the
 * exit frame ends it as usual. An agent or relay that cannot resume gives a plain session
 * (no token in its `Ready`), which ends with its connection.
 *
 * @example
 * ```ts
 * const session = await openResumableSession(conn, open, passwords, signal, events);
 * ```
 */
export async function openResumableSession(
  conn: RelayConnection,
  open: MessageInitShape<typeof OpenSessionSchema>,
  passwordFor: PasswordSource,
  signal: AbortSignal,
  events: ResumeEvents,
): Promise<OpenedSession> {
  // Input bytes sent and not yet acknowledged by the agent, to send again after a resume from the
  // offset the agent says it has; never bounded here (the agent's input window and
  // MAX_HELD_INPUT_BYTES bound it).
  const input = new ReplayBuffer(Infinity);
  const onCredit = (bytes: number) => input.ackTo(input.acked + bytes);
  // A call follows `until` while it opens, and no longer once the terminal runs: the relay takes
  // a dropped call for a lost connection and the agent keeps the terminal, so the caller hangs up
  // in words on SIGINT or SIGTERM (close), then lets go (abort).
  const openCall = async (
    frame: MessageInitShape<typeof OpenSessionSchema>,
    until: AbortSignal,
  ): Promise<{ session: OpenedSession; drop: () => void }> => {
    const call = new AbortController();
    const drop = () => call.abort(until.reason);
    until.addEventListener("abort", drop, { once: true });
    try {
      const session = await openSession(conn, frame, passwordFor, call.signal, undefined, onCredit);
      return { session, drop };
    } finally {
      until.removeEventListener("abort", drop);
    }
  };
  const kind = open.kind ?? SessionKind.PTY;
  const first = await openCall({ ...open, kind, resumeGraceMs: REQUESTED_GRACE_MS }, signal);
  let current = first.session;
  const { ready } = current;
  // The path carried this full-duplex call: resumes go full duplex too. A probe that sees
  // nothing while the network is down proves nothing about proxies on the path.
  if (conn.transport === "auto") conn.transport = "duplex";
  if (!ready.resumeToken || ready.resumeGraceMs === 0) {
    // Not resumable: a dropped call is a hang-up, as for any session.
    signal.addEventListener("abort", first.drop, { once: true });
    if (signal.aborted) first.drop();
    return current;
  }

  let size = { rows: open.rows ?? 0, cols: open.cols ?? 0 };
  let outputOffset = 0;
  let inputEnded = false;
  let connected = true;
  let leaving = false;
  // Leaving (Ctrl-D, a hang-up) or an interrupt stops a resume in progress.
  const left = new AbortController();
  const attempts = AbortSignal.any([signal, left.signal]);

  let reconnected = Promise.withResolvers<void>();

  const resume = async (cause: unknown): Promise<void> => {
    connected = false;
    current.abort();
    const deadline = Date.now() + ready.resumeGraceMs;
    await events.lost(reasonOf(cause), deadline);
    let wait = FIRST_RETRY_MS;
    let last: unknown = cause;
    while (!attempts.aborted && Date.now() < deadline) {
      try {
        const resumeFrom = { token: ready.resumeToken, outputOffset: BigInt(outputOffset) };
        const { session: next } = await openCall(
          kind === SessionKind.PTY
            ? {
              machineId: open.machineId,
              kind,
              term: open.term,
              // One column narrower, then the real size: the change makes a full-screen program
              // (top, an editor) draw its screen again, over the reconnecting notice.
              rows: size.rows,
              cols: size.cols > 1 ? size.cols - 1 : size.cols,
              resume: resumeFrom,
            }
            // The command names no program to run, but the relay checks an exec has one.
            : { machineId: open.machineId, kind, argv: open.argv, resume: resumeFrom },
          attempts,
        );
        current = next;
        input.ackTo(Number(next.ready.inputOffset));
        await events.resumed();
        if (size.cols > 1) next.resize(size.rows, size.cols);
        // What the agent missed, then what is typed meanwhile, in order; then straight through.
        for (let offset = input.acked; offset < input.end;) {
          offset = Math.max(offset, input.acked);
          for (const data of input.from(offset)) {
            await next.write(data);
            offset += data.length;
          }
        }
        if (inputEnded) next.endInput();
        connected = true;
        reconnected.resolve();
        reconnected = Promise.withResolvers<void>();
        return;
      } catch (error) {
        if (!retryable(error)) throw error;
        last = error;
      }
      await sleep(Math.min(wait, Math.max(0, deadline - Date.now())), attempts);
      wait = Math.min(wait * 2, LAST_RETRY_MS);
    }
    reconnected.reject(last);
    throw new CliError(
      `could not resume the ${kind === SessionKind.PTY ? "terminal" : "command"} within ${
        Math.round(ready.resumeGraceMs / 1000)
      } s: ` +
        reasonOf(last),
      // A machine that stayed offline (frozen, its agent gone) is exit 3, as at the start.
      { cause: last, exitCode: offline(last) ? ExitCode.offline : ExitCode.generic },
    );
  };

  async function* frames(): AsyncGenerator<SessionOutput> {
    for (;;) {
      let next: IteratorResult<SessionOutput>;
      try {
        next = await current.frames.next();
      } catch (error) {
        if (leaving || !retryable(error)) throw error;
        await resume(error);
        continue;
      }
      if (next.done) {
        if (leaving) return;
        await resume(new Error("the relay ended the stream"));
        continue;
      }
      const msg = next.value.msg;
      if (msg.case === "output") outputOffset += msg.value.data.length;
      yield next.value;
      if (msg.case === "exit") return;
    }
  }
  reconnected.promise.catch(() => {});

  return {
    ready,
    frames: frames(),
    async write(data) {
      void input.append(data);
      if (connected) return await current.write(data);
      // Down: held (and sent on resuming) up to a bound, then the typist waits for the link.
      if (input.size > MAX_HELD_INPUT_BYTES) await reconnected.promise.catch(() => {});
    },
    endInput() {
      inputEnded = true;
      if (connected) current.endInput();
    },
    resize(rows, cols) {
      size = { rows, cols };
      if (connected) current.resize(rows, cols);
    },
    consumed: (bytes) => current.consumed(bytes),
    close() {
      leaving = true;
      left.abort();
      current.close();
    },
    abort() {
      leaving = true;
      left.abort();
      current.abort();
    },
  };
}

/**
 * Failures worth another attempt: the network, the relay, the agent's link. Not a refused
 * credential, a machine that is gone, or a terminal that can no longer be resumed.
 */
const FINAL_CODES = new Set<number>([
  ConnectCode.Unauthenticated,
  ConnectCode.PermissionDenied,
  ConnectCode.NotFound,
  ConnectCode.InvalidArgument,
  ConnectCode.Unimplemented,
]);

function retryable(error: unknown): boolean {
  if (isConnectError(error)) {
    return !FINAL_CODES.has(error.code);
  }
  if (error instanceof CliError) {
    return error.exitCode !== ExitCode.auth &&
      !/cannot be resumed|cannot resume from/.test(error.message);
  }
  return true;
}

/** The relay's word that the machine is offline, or a session ended because it stopped answering. */
function offline(error: unknown): boolean {
  if (error instanceof CliError) return error.exitCode === ExitCode.offline;
  return isConnectError(error) && error.code === ConnectCode.FailedPrecondition &&
    error.metadata.get("cmdop-reason") === "offline";
}

function reasonOf(error: unknown): string {
  if (isConnectError(error)) return error.rawMessage;
  return error instanceof Error ? error.message : String(error);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
