/** runPtySession: one interactive terminal session on the agent, the login shell on a real pty, bytes under credit both ways. */
import { OutputStream } from "../../gen/cmdop/v1/session_pb.ts";
import { CreditCounter, CreditGate, sessionWindow } from "../lib/credit.ts";
import { INPUT_WINDOW_BYTES, outputFrame, type SessionChannel } from "./channel.ts";
import { loginShell, openPty, type Pty, type PtyOptions } from "./pty.ts";
import { supervise } from "../lib/supervise.ts";
import type { ProcessTracker } from "./process_tracker.ts";

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
}

/** Used only when a client sends no size at all (an old or scripted client). */
const FALLBACK_ROWS = 24;
const FALLBACK_COLS = 80;
const MAX_SIZE = 65535;
/**
 * Input is credited back in batches of this much. A credit frame per keystroke would go out just
 * before the keystroke's echo, and the echo, a second small write right behind it, waited for the
 * relay's delayed ACK (Nagle): about 40 ms per key on loopback.
 */
const INPUT_CREDIT_BATCH_BYTES = INPUT_WINDOW_BYTES >> 2;
/** They describe the agent's own terminal, if any, and would override the session's window size. */
const TERMINAL_SPECIFIC_VARIABLES = ["LINES", "COLUMNS", "TERMCAP"];

/**
 * Runs the login shell (or `open.argv`) as the leader of a new session whose
 * controlling terminal is a pty of the client's size and `TERM`. Output goes
 * out only within the credit the client grants; input is credited back once
 * written to the terminal. A close frame, or the relay hanging up, hangs the
 * terminal up (SIGHUP to the session, SIGKILL after a grace period). The last
 * frame is the program's exit status.
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
  // Recorded until the terminal is released: an agent stopped or killed meanwhile ends its session.
  const untrack = environment.tracker?.track(pty.pid) ?? (() => {});
  channel.send(
    outputFrame({ case: "ready", value: { windowBytes: INPUT_WINDOW_BYTES } }),
  );

  // Clamped: the window bounds what queues here for a client that does not read.
  const window = sessionWindow(open.windowBytes);
  const gate = new CreditGate(window, window);
  const output = pumpOutput(pty, gate, channel);
  const inputs = supervise("terminal session input", consumeInputs(channel, pty, gate), {
    log: environment.log ?? (() => {}),
    onError: () => pty.close(),
  });
  const exit = await pty.exited;
  // The output ends once the terminal is drained; a client slow to credit holds the exit frame back, as it should.
  await output;
  gate.close();
  channel.send(outputFrame({
    case: "exit",
    value: { code: exit.code, signal: exit.signal ?? "" },
  }));
  // Releases the terminal; jobs the shell left running keep running, as after `exit` over SSH.
  await pty.close();
  untrack();
  // The input side ends when the relay closes the stream; it fails only into its own handler.
  void inputs;
}

/** Terminal output to the client, one frame per chunk, each within credit. */
async function pumpOutput(
  pty: Pty,
  gate: CreditGate,
  channel: SessionChannel,
): Promise<void> {
  try {
    for await (const data of pty.readable) {
      if (!(await gate.take(data.length))) return;
      const frame = outputFrame({
        case: "output",
        value: { stream: OutputStream.STDOUT, data },
      });
      if (!channel.send(frame)) return;
    }
  } catch {
    // An unreadable terminal has nothing more to give; the exit status still goes out.
  }
}

/** Frames from the client until it closes the session or the relay goes away; both hang the terminal up. */
async function consumeInputs(
  channel: SessionChannel,
  pty: Pty,
  gate: CreditGate,
): Promise<void> {
  const credits = new CreditCounter(INPUT_CREDIT_BATCH_BYTES);
  const hangUp = () => {
    gate.close();
    return pty.close();
  };
  try {
    for await (const input of channel.inputs) {
      const msg = input.msg;
      if (msg.case === "credit") gate.grant(msg.value);
      else if (msg.case === "data") {
        // An empty frame means end of input, which a terminal has no notion of: only Ctrl-D means that, and it is a byte.
        if (msg.value.length === 0) continue;
        const bytes = msg.value.length;
        // Not awaited: a program that does not read its input must not hold back the credit frames behind it.
        // The client's input window bounds what can queue here.
        pty.write(msg.value).then(
          () => {
            const credit = credits.consumed(bytes);
            if (credit > 0) channel.send(outputFrame({ case: "credit", value: credit }));
          },
          () => {}, // The terminal is closed; the exit frame follows.
        );
      } else if (msg.case === "resize") {
        const { rows, cols } = msg.value;
        if (rows >= 1 && cols >= 1) {
          pty.resize(Math.min(rows, MAX_SIZE), Math.min(cols, MAX_SIZE));
        }
      } else if (msg.case === "close") {
        await hangUp();
        return;
      }
    }
  } catch {
    // The relay dropped the stream: the same as a hang-up.
  }
  await hangUp();
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
