/** runExecSession: one command run directly (no shell), stdout and stderr streamed apart under credit. */
import { OutputStream, SessionKind } from "../../gen/cmdop/v1/session_pb.ts";
import { CreditGate, sessionWindow } from "../lib/credit.ts";
import { INPUT_WINDOW_BYTES, outputFrame, type SessionChannel, signalExitCode } from "./channel.ts";
import { creditedFrames } from "./coalesce.ts";
import { outputData } from "./output_frame.ts";
import { supervise } from "../lib/supervise.ts";
import { withParentDeathSignal } from "./parent_death.ts";
import type { ProcessTracker } from "./process_tracker.ts";
import type { HeldSessions } from "./held_sessions.ts";
import { type KeptProgram, KeptSession, resumeKept } from "./kept_session.ts";

/** How long output may keep flowing after the command exits (a background child holding the pipe). */
const DRAIN_AFTER_EXIT_MS = 2_000;
/** Between SIGTERM and SIGKILL when a client hangs up. */
const HANGUP_GRACE_MS = 1_000;

export interface ExecEnvironment {
  env: Record<string, string>;
  cwd?: string;
  /** Where a failure of the session's input side is reported. */
  log?: (message: string) => void;
  /** Records the command's session while it may have processes. */
  tracker?: ProcessTracker;
  /** The agent's resumable sessions; without it a command ends with its stream. */
  held?: HeldSessions;
}

/**
 * Runs `open.argv` and reports its output and exit status on the channel, or reattaches to
 * a command the agent keeps (`open.resume`). The command gets its own process group, so a
 * timeout or a hang-up ends everything it started. A client that asks for a resume grace
 * (`open.resume_grace_ms`) gets a command that outlives a lost stream for that long, its
 * output kept (up to one window) for the client to resume.
 *
 * @example
 * ```ts
 * await runExecSession(channel, { env: Deno.env.toObject() });
 * ```
 */
export async function runExecSession(
  channel: SessionChannel,
  environment: ExecEnvironment,
): Promise<void> {
  const { open } = channel;
  const log = environment.log ?? (() => {});
  if (open.resume) return await resumeKept(channel, open.resume, environment.held, log);
  let child: Deno.ChildProcess;
  const env = { ...environment.env, ...open.env };
  try {
    const [program, ...args] = withParentDeathSignal(open.argv, {
      path: env.PATH,
      cwd: environment.cwd,
    });
    child = new Deno.Command(program, {
      args,
      env,
      cwd: environment.cwd,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      // A new process group (and session): the whole group can be signalled.
      detached: true,
    }).spawn();
  } catch (error) {
    const notFound = error instanceof Deno.errors.NotFound;
    channel.send(outputFrame({
      case: "exit",
      value: {
        code: notFound ? 127 : 126,
        error: notFound
          ? `command not found: ${open.argv[0]}`
          : `cannot run "${open.argv[0]}": ${(error as Error).message}`,
      },
    }));
    return;
  }
  // Recorded until the session is over, hang-up included: an agent stopped or killed meanwhile ends it.
  const untrack = environment.tracker?.track(child.pid) ?? (() => {});
  const held = environment.held;
  const graceMs = held?.graceFor(open.resumeGraceMs) ?? 0;
  if (held && graceMs > 0) {
    const session = new KeptSession(execProgram(child, open.timeoutMs), {
      kind: SessionKind.EXEC,
      // Clamped: the window bounds what is kept here for a client that does not read.
      window: sessionWindow(open.windowBytes),
      owner: open.owner,
      graceMs,
      // After the hang-up's SIGKILL has gone out.
      untrack: () => setTimeout(untrack, HANGUP_GRACE_MS + 100),
      log,
    });
    session.register(await held.add(session));
    await session.attach(channel, 0);
    return;
  }
  channel.send(outputFrame({ case: "ready", value: { windowBytes: INPUT_WINDOW_BYTES } }));

  // Clamped: the window bounds what queues here for a client that does not read.
  const window = sessionWindow(open.windowBytes);
  const gate = new CreditGate(window, window);
  const deadline = killAtTimeout(child.pid, open.timeoutMs);

  const pumps = Promise.all([
    pump(child.stdout, OutputStream.STDOUT, gate, channel),
    pump(child.stderr, OutputStream.STDERR, gate, channel),
  ]);
  const inputs = supervise("exec session input", consumeInputs(channel, child, gate), {
    log,
    onError: () => killGroup(child.pid, "SIGKILL"),
    // After the hang-up's SIGKILL has gone out.
    cleanup: () => setTimeout(untrack, HANGUP_GRACE_MS + 100),
  });

  const status = await child.status;
  deadline.clear();
  const drained = await Promise.race([
    pumps.then(() => true),
    new Promise<boolean>((r) => setTimeout(() => r(false), DRAIN_AFTER_EXIT_MS)),
  ]);
  if (!drained) {
    await Promise.allSettled([child.stdout.cancel(), child.stderr.cancel()]);
  }
  gate.close();
  channel.send(outputFrame({
    case: "exit",
    value: {
      code: signalExitCode(status.signal, status.code),
      signal: status.signal ?? "",
      timedOut: deadline.struck,
    },
  }));
  // The input side ends when the relay closes the stream; it fails only into its own handler.
  void inputs;
}

async function pump(
  stream: ReadableStream<Uint8Array>,
  which: OutputStream,
  gate: CreditGate,
  channel: SessionChannel,
): Promise<void> {
  try {
    for await (const chunk of creditedFrames(stream, gate)) {
      if (!channel.send(outputData(which, chunk))) return;
    }
  } catch {
    // The pipe was cancelled after exit; what was read has been sent.
  }
}

async function consumeInputs(
  channel: SessionChannel,
  child: Deno.ChildProcess,
  gate: CreditGate,
): Promise<void> {
  const stdin = child.stdin.getWriter();
  let stdinOpen = true;
  const closeStdin = () => {
    if (!stdinOpen) return;
    stdinOpen = false;
    stdin.close().catch(() => {});
  };
  const hangUp = () => {
    closeStdin();
    hangUpGroup(child.pid);
  };
  try {
    for await (const input of channel.inputs) {
      const msg = input.msg;
      if (msg.case === "credit") gate.grant(msg.value);
      else if (msg.case === "data") {
        // An empty data frame is end-of-input.
        if (msg.value.length === 0) closeStdin();
        else if (stdinOpen) {
          await stdin.write(msg.value).catch(closeStdin);
          channel.send(outputFrame({ case: "credit", value: msg.value.length }));
        }
      } else if (msg.case === "close") {
        hangUp();
        return;
      }
    }
    // The relay went away without a word: treat it as a hang-up.
    hangUp();
  } catch {
    hangUp();
  }
}

/**
 * A command as the program of a {@linkcode KeptSession}: its stdout and stderr, its stdin,
 * its process group hung up with SIGTERM (SIGKILL a second later), killed at its timeout.
 */
function execProgram(child: Deno.ChildProcess, timeoutMs: number): KeptProgram {
  const deadline = killAtTimeout(child.pid, timeoutMs);
  const stdin = child.stdin.getWriter();
  let stdinOpen = true;
  const closeStdin = () => {
    if (!stdinOpen) return;
    stdinOpen = false;
    stdin.close().catch(() => {});
  };
  return {
    pid: child.pid,
    outputs: [
      { stream: OutputStream.STDOUT, readable: child.stdout },
      { stream: OutputStream.STDERR, readable: child.stderr },
    ],
    exited: child.status.then((status) => {
      deadline.clear();
      return {
        code: signalExitCode(status.signal, status.code),
        signal: status.signal ?? "",
        timedOut: deadline.struck,
      };
    }),
    drainAfterExitMs: DRAIN_AFTER_EXIT_MS,
    write: (data) => {
      if (!stdinOpen) return Promise.reject(new Deno.errors.BrokenPipe("input is closed"));
      return stdin.write(data).catch((error) => {
        closeStdin();
        throw error;
      });
    },
    endInput: closeStdin,
    resize: () => {},
    hangUp: () => {
      closeStdin();
      hangUpGroup(child.pid);
      return Promise.resolve();
    },
  };
}

/** Signals the command's whole process group; one already gone is no error. */
function killGroup(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

/** A hang-up: SIGTERM to the group, SIGKILL to what is left of it {@linkcode HANGUP_GRACE_MS} later. */
function hangUpGroup(pid: number): void {
  killGroup(pid, "SIGTERM");
  setTimeout(() => killGroup(pid, "SIGKILL"), HANGUP_GRACE_MS);
}

/** SIGKILL to the group after `timeoutMs` (0: never); `struck` says whether it came. */
function killAtTimeout(
  pid: number,
  timeoutMs: number,
): { readonly struck: boolean; clear(): void } {
  let struck = false;
  const timer = timeoutMs > 0
    ? setTimeout(() => {
      struck = true;
      killGroup(pid, "SIGKILL");
    }, timeoutMs)
    : undefined;
  return {
    get struck() {
      return struck;
    },
    clear: () => clearTimeout(timer),
  };
}
