/** runPtySession: one interactive terminal session on the agent, the login shell on a real pty, bytes under credit both ways. */
import { OutputStream, SessionKind } from "../../gen/cmdop/v1/session_pb.ts";
import { sessionWindow } from "../lib/credit.ts";
import { outputFrame, type SessionChannel } from "./channel.ts";
import { loginShell, openPty, type Pty, type PtyOptions } from "./pty.ts";
import type { ProcessTracker } from "./process_tracker.ts";
import type { HeldSessions } from "./held_sessions.ts";
import { type KeptProgram, KeptSession, resumeKept } from "./kept_session.ts";

/** Where and how a terminal session's program starts. */
export interface PtySessionEnvironment {
  /** The environment the program inherits before the client's additions. */
  env: Record<string, string>;
  /** Starting directory; defaults to `HOME` from `env`. */
  cwd?: string;
  /** Opens the terminal; {@linkcode openPty} unless replaced. */
  openPty?: (options: PtyOptions) => Pty;
  /** Where a failure of the session's input side is reported. */
  log?: (message: string) => void;
  /** Records the terminal's session while it may have processes. */
  tracker?: ProcessTracker;
  /** The agent's resumable terminals; without it a terminal ends with its stream. */
  held?: HeldSessions;
}

/** Used only when a client sends no size at all (an old or scripted client). */
const FALLBACK_ROWS = 24;
const FALLBACK_COLS = 80;
const MAX_SIZE = 65535;
/** They describe the agent's own terminal, if any, and would override the session's window size. */
const TERMINAL_SPECIFIC_VARIABLES = ["LINES", "COLUMNS", "TERMCAP"];

/**
 * Runs the login shell (or `open.argv`) as the leader of a new session whose
 * controlling terminal is a pty of the client's size and `TERM`, or reattaches to a
 * terminal the agent keeps (`open.resume`). Output goes out only within the credit the
 * client grants; input is credited back once written to the terminal. A close frame hangs
 * the terminal up (SIGHUP to the session, SIGKILL after a grace period), and so does the
 * relay hanging up, unless the terminal is resumable: then it is kept for its grace period,
 * with up to one window of output, for the client to resume. The last frame is the
 * program's exit status.
 *
 * @example
 * ```ts
 * await runPtySession(channel); // what the agent does for a SESSION_KIND_PTY dial
 * ```
 */
export async function runPtySession(
  channel: SessionChannel,
  environment: PtySessionEnvironment = { env: Deno.env.toObject() },
): Promise<void> {
  const { open } = channel;
  if (open.resume) {
    return await resumeKept(channel, open.resume, environment.held, environment.log ?? (() => {}));
  }
  const env = { ...environment.env, ...open.env };
  for (const name of TERMINAL_SPECIFIC_VARIABLES) delete env[name];
  const argv = open.argv.length > 0 ? [...open.argv] : loginShell(env);
  let pty: Pty;
  try {
    pty = (environment.openPty ?? openPty)({
      argv,
      env,
      cwd: environment.cwd ?? existingDir(env.HOME),
      rows: dimension(open.rows, FALLBACK_ROWS),
      cols: dimension(open.cols, FALLBACK_COLS),
      term: open.term || undefined,
    });
  } catch (error) {
    channel.send(outputFrame({
      case: "exit",
      value: {
        code: 127,
        error: `cannot start a terminal: ${(error as Error).message}`,
      },
    }));
    return;
  }
  const held = environment.held;
  const terminal = new KeptSession(ptyProgram(pty), {
    kind: SessionKind.PTY,
    // Clamped: the window bounds what is kept here for a client that does not read.
    window: sessionWindow(open.windowBytes),
    owner: open.owner,
    graceMs: held?.graceFor(open.resumeGraceMs) ?? 0,
    // Recorded until the terminal is released: an agent stopped or killed meanwhile ends it.
    untrack: environment.tracker?.track(pty.pid) ?? (() => {}),
    log: environment.log ?? (() => {}),
  });
  if (held && terminal.graceMs > 0) terminal.register(await held.add(terminal));
  await terminal.attach(channel, 0);
}

/** A terminal as the program of a {@linkcode KeptSession}. */
function ptyProgram(pty: Pty): KeptProgram {
  return {
    pid: pty.pid,
    outputs: [{ stream: OutputStream.STDOUT, readable: pty.readable }],
    exited: pty.exited.then(({ code, signal }) => ({ code, signal: signal ?? "" })),
    drainAfterExitMs: Infinity,
    write: (data) => pty.write(data),
    // An empty frame means end of input, which a terminal has no notion of: only Ctrl-D
    // means that, and it is a byte.
    endInput: () => {},
    resize: (rows, cols) => pty.resize(Math.min(rows, MAX_SIZE), Math.min(cols, MAX_SIZE)),
    hangUp: () => pty.close(),
  };
}

function dimension(value: number, fallback: number): number {
  return value >= 1 ? Math.min(value, MAX_SIZE) : fallback;
}

function existingDir(path: string | undefined): string | undefined {
  if (!path) return undefined;
  try {
    return Deno.statSync(path).isDirectory ? path : undefined;
  } catch {
    return undefined;
  }
}
