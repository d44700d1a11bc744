/** runPtySession: one interactive terminal session on the agent, the login shell on a real pty, bytes under credit both ways. */
import { OutputStream, type ResumeSession } from "../../gen/cmdop/v1/session_pb.ts";
import { CreditCounter, sessionWindow } from "../lib/credit.ts";
import { INPUT_WINDOW_BYTES, outputFrame, type SessionChannel } from "./channel.ts";
import { loginShell, openPty, type Pty, type PtyExit, type PtyOptions } from "./pty.ts";
import { supervise } from "../lib/supervise.ts";
import type { ProcessTracker } from "./process_tracker.ts";
import type { HeldTerminals, Resumable } from "./held_terminals.ts";
import { ReplayBuffer } from "../lib/replay_buffer.ts";

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
  held?: HeldTerminals;
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
  if (open.resume) return await resumeTerminal(channel, open.resume, environment);
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
  const terminal = new Terminal(pty, {
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

/** Attaches `channel` to the kept terminal its token names, from the client's output offset. */
async function resumeTerminal(
  channel: SessionChannel,
  resume: ResumeSession,
  environment: PtySessionEnvironment,
): Promise<void> {
  const refuse = (error: string) =>
    channel.send(outputFrame({ case: "exit", value: { code: 1, error } }));
  const terminal = await environment.held?.find(resume.token, channel.open.owner);
  if (!terminal) {
    refuse(
      "this terminal cannot be resumed: it ended, its resume grace ran out, or the agent " +
        "restarted",
    );
    return;
  }
  const offset = Number(resume.outputOffset);
  if (!terminal.holds(offset)) {
    refuse(`cannot resume from output byte ${offset}: the machine no longer keeps it`);
    return;
  }
  const { rows, cols } = channel.open;
  if (rows >= 1 && cols >= 1) terminal.resize(rows, cols);
  environment.log?.(`terminal ${terminal.pid}: resumed from output byte ${offset}`);
  await terminal.attach(channel, offset);
}

/** Where a terminal's registration in {@linkcode HeldTerminals} is. */
interface Registration {
  token: string;
  remove(): void;
}

/**
 * One program on a pty, outliving the streams attached to it when it is resumable. Its
 * output goes into a {@linkcode ReplayBuffer} of one window; the attached stream is sent
 * what it has not had, and its credit frames free the buffer. With no stream attached the
 * program runs on until the buffer is full, then waits, as if its terminal were not read.
 */
export class Terminal implements Resumable {
  readonly owner: string;
  readonly graceMs: number;
  #pty: Pty;
  #buffer: ReplayBuffer;
  #untrack: () => void;
  #log: (message: string) => void;
  /** Input bytes received, in all: a resumed client sends again what it sent after them. */
  #inputOffset = 0;
  #exit?: PtyExit;
  #attachment?: { stop(): void };
  #changed?: () => void;
  #graceTimer?: ReturnType<typeof setTimeout>;
  #registration?: Registration;
  #released = false;

  constructor(
    pty: Pty,
    options: {
      window: number;
      owner: string;
      graceMs: number;
      untrack: () => void;
      log: (message: string) => void;
    },
  ) {
    this.#pty = pty;
    this.#buffer = new ReplayBuffer(options.window);
    this.owner = options.owner;
    this.graceMs = options.graceMs;
    this.#untrack = options.untrack;
    this.#log = options.log;
    // Never rejects but for a bug; then the terminal is hung up and it is logged.
    this.#run().catch((error) => {
      this.#log(`terminal ${pty.pid}: ${(error as Error)?.message ?? error}`);
      void this.#release().catch(() => {});
    });
  }

  get pid(): number {
    return this.#pty.pid;
  }

  get detached(): boolean {
    return !this.#attachment && !this.#released;
  }

  /** Makes the terminal resumable with the token of `registration`. */
  register(registration: Registration): void {
    this.#registration = registration;
  }

  /** Whether a stream can start at output byte `offset`. */
  holds(offset: number): boolean {
    return !this.#released && this.#buffer.holds(offset);
  }

  resize(rows: number, cols: number): void {
    this.#pty.resize(Math.min(rows, MAX_SIZE), Math.min(cols, MAX_SIZE));
  }

  /**
   * Serves `channel` from output byte `offset` until the program's exit frame is sent, the
   * stream ends, or another stream takes the terminal over. A stream that ends without a
   * close frame leaves a resumable terminal kept for its grace period, and hangs any other
   * up.
   */
  async attach(channel: SessionChannel, offset: number): Promise<void> {
    this.#attachment?.stop();
    clearTimeout(this.#graceTimer);
    // Everything before the offset has reached the client.
    this.#buffer.ackTo(offset);
    let stopped = false;
    let wake = () => {};
    const attachment = {
      stop: () => {
        stopped = true;
        wake();
      },
    };
    this.#attachment = attachment;
    channel.send(outputFrame({
      case: "ready",
      value: {
        windowBytes: INPUT_WINDOW_BYTES,
        resumeToken: this.#registration?.token ?? "",
        resumeGraceMs: this.#registration ? this.graceMs : 0,
        inputOffset: BigInt(this.#inputOffset),
      },
    }));
    let sent = offset;
    const consumed = this.#consume(channel, attachment, () => sent).then(async (closed) => {
      if (!closed && this.#attachment === attachment) {
        // The relay hung up without a close frame: the client is gone, or only its link.
        if (this.#registration) stopped = true;
        else await this.#hangUp();
      }
      wake();
    });
    const inputs = supervise("terminal session input", consumed, {
      log: this.#log,
      onError: () => this.#hangUp(),
    });
    try {
      for (;;) {
        if (stopped) return;
        if (sent < this.#buffer.end) {
          for (const data of this.#buffer.from(sent)) {
            const frame = outputFrame({
              case: "output",
              value: { stream: OutputStream.STDOUT, data },
            });
            if (!channel.send(frame)) {
              stopped = true;
              break;
            }
            sent += data.length;
          }
          continue;
        }
        if (this.#exit) {
          const { code, signal } = this.#exit;
          channel.send(outputFrame({ case: "exit", value: { code, signal: signal ?? "" } }));
          await this.#release();
          return;
        }
        const changed = Promise.withResolvers<void>();
        wake = changed.resolve;
        this.#changed = changed.resolve;
        await changed.promise;
      }
    } finally {
      if (this.#attachment === attachment) {
        this.#attachment = undefined;
        if (!this.#released) this.#detached();
      }
      // The input side ends when the relay closes the stream; it fails only into its handler.
      void inputs;
    }
  }

  /** Reads the program's output into the buffer until it is drained, then notes its exit. */
  async #run(): Promise<void> {
    const output = (async () => {
      try {
        for await (const data of this.#pty.readable) {
          if (!(await this.#buffer.append(data))) return;
          this.#changed?.();
        }
      } catch {
        // An unreadable terminal has nothing more to give; the exit status still goes out.
      }
    })();
    const exit = await this.#pty.exited;
    // The output ends once the terminal is drained; a client slow to credit holds the exit back.
    await output;
    this.#exit = exit;
    this.#changed?.();
  }

  /** Frames from the client; resolves true on a close frame, false when the stream ended. */
  async #consume(
    channel: SessionChannel,
    attachment: { stop(): void },
    sent: () => number,
  ): Promise<boolean> {
    const credits = new CreditCounter(INPUT_CREDIT_BATCH_BYTES);
    try {
      for await (const input of channel.inputs) {
        if (this.#attachment !== attachment) return false;
        const msg = input.msg;
        if (msg.case === "credit") {
          // Never past what was sent: a client cannot free bytes it has not had.
          this.#buffer.ackTo(Math.min(this.#buffer.acked + msg.value, sent()));
        } else if (msg.case === "data") {
          // An empty frame means end of input, which a terminal has no notion of: only Ctrl-D
          // means that, and it is a byte.
          if (msg.value.length === 0) continue;
          const bytes = msg.value.length;
          this.#inputOffset += bytes;
          // Not awaited: a program that does not read its input must not hold back the credit
          // frames behind it. The client's input window bounds what can queue here.
          this.#pty.write(msg.value).then(
            () => {
              const credit = credits.consumed(bytes);
              if (credit > 0) channel.send(outputFrame({ case: "credit", value: credit }));
            },
            () => {}, // The terminal is closed; the exit frame follows.
          );
        } else if (msg.case === "resize") {
          const { rows, cols } = msg.value;
          if (rows >= 1 && cols >= 1) this.resize(rows, cols);
        } else if (msg.case === "close") {
          await this.#hangUp();
          return true;
        }
      }
    } catch {
      // The relay dropped the stream: the same as ending it.
    }
    return false;
  }

  /** No stream is attached: a resumable terminal waits out its grace, any other hangs up. */
  #detached(): void {
    if (!this.#registration) {
      this.#hangUp().catch(() => {}); // Idempotent; a pty already gone has nothing to hang up.
      return;
    }
    this.#log(
      `terminal ${this.#pty.pid}: its stream was lost; kept ${
        Math.round(this.graceMs / 1000)
      } s for the client to resume`,
    );
    this.#graceTimer = setTimeout(() => {
      this.#log(`terminal ${this.#pty.pid}: not resumed within its grace period; hanging up`);
      this.#release().catch(() => {});
    }, this.graceMs);
  }

  /** SIGHUP to the terminal's session (SIGKILL after a grace); the exit frame follows. */
  #hangUp(): Promise<void> {
    this.#buffer.close();
    return this.#pty.close();
  }

  /** The end: no stream can resume it, its processes are hung up, its memory goes. */
  async #release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    clearTimeout(this.#graceTimer);
    this.#registration?.remove();
    this.#attachment?.stop();
    // Jobs the shell left running keep running after it exited on its own, as after `exit`
    // over SSH; while it still runs, this hangs it up.
    await this.#hangUp();
    this.#untrack();
  }
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
