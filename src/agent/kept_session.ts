/** KeptSession: a session's program (a terminal, a command) that outlives the streams attached to it, with its output kept until the client has it. */
import { OutputStream, type ResumeSession, SessionKind } from "../../gen/cmdop/v1/session_pb.ts";
import { CreditCounter } from "../lib/credit.ts";
import { ReplayBuffer } from "../lib/replay_buffer.ts";
import { supervise } from "../lib/supervise.ts";
import { INPUT_WINDOW_BYTES, outputFrame, type SessionChannel } from "./channel.ts";
import type { HeldSessions, Resumable } from "./held_sessions.ts";
import { BUSY_READ, FRAME_LIMIT, type FrameAdmission, OutputReader } from "./output_reader.ts";
import { FRAME_ROOM, hasRoom, outputData, withRoom } from "./output_frame.ts";

/** How a program ended, as its exit frame says. */
export interface ProgramExit {
  code: number;
  signal: string;
  timedOut?: boolean;
}

/** The running program of a session, whatever it runs on (a pty, pipes). */
export interface KeptProgram {
  readonly pid: number;
  /** Its output, read as it comes; a terminal has one, a command stdout and stderr. */
  readonly outputs: { stream: OutputStream; readable: ReadableStream<Uint8Array> }[];
  /** Resolves once the program has exited (its output may still be draining). */
  readonly exited: Promise<ProgramExit>;
  /**
   * How long output may keep flowing after the exit: a command's background child can hold
   * its pipes open; a terminal is drained however long that takes.
   */
  readonly drainAfterExitMs: number;
  /** Writes input; rejects once the program's input is closed. */
  write(data: Uint8Array): Promise<void>;
  /** The client's end of input (an empty data frame); a terminal has no such thing. */
  endInput(): void;
  resize(rows: number, cols: number): void;
  /** Hangs the program up (SIGHUP or SIGTERM, SIGKILL after a grace); the exit follows. */
  hangUp(): Promise<void>;
}

/**
 * Input is credited back in batches of this much. A credit frame per keystroke would go out just
 * before the keystroke's echo, and the echo, a second small write right behind it, waited for the
 * relay's delayed ACK (Nagle): about 40 ms per key on loopback.
 */
const INPUT_CREDIT_BATCH_BYTES = INPUT_WINDOW_BYTES >> 2;
/** Where a session's registration in {@linkcode HeldSessions} is. */
interface Registration {
  token: string;
  remove(): void;
}

/**
 * One program outliving the streams attached to it when it is resumable. Its output goes
 * into a {@linkcode ReplayBuffer} of one window; the attached stream is sent what it has
 * not had, and its credit frames free the buffer. With no stream attached the program runs
 * on until the buffer is full, then waits, as if its output were not read. A resumable
 * session's exit frame is sent again to a resumed stream until the client says close after
 * it: an exit lost in a drop at the very end still reaches the client.
 */
export class KeptSession implements Resumable {
  readonly kind: number;
  readonly owner: string;
  readonly graceMs: number;
  #program: KeptProgram;
  #buffer: ReplayBuffer;
  #untrack: () => void;
  #log: (message: string) => void;
  /** Input bytes received, in all: a resumed client sends again what it sent after them. */
  #inputOffset = 0;
  #exit?: ProgramExit;
  #attachment?: { stop(): void };
  #changed?: () => void;
  #graceTimer?: ReturnType<typeof setTimeout>;
  #registration?: Registration;
  #released = false;
  /** Bytes of frames being read, not yet in the buffer: what is joined to them must fit too. */
  #reading = 0;

  constructor(
    program: KeptProgram,
    options: {
      kind: number;
      window: number;
      owner: string;
      graceMs: number;
      untrack: () => void;
      log: (message: string) => void;
    },
  ) {
    this.#program = program;
    this.#buffer = new ReplayBuffer(options.window);
    this.kind = options.kind;
    this.owner = options.owner;
    this.graceMs = options.graceMs;
    this.#untrack = options.untrack;
    this.#log = options.log;
    // Never rejects but for a bug; then the program is hung up and it is logged.
    this.#run().catch((error) => {
      this.#log(`session ${program.pid}: ${(error as Error)?.message ?? error}`);
      void this.#release().catch(() => {});
    });
  }

  get pid(): number {
    return this.#program.pid;
  }

  get detached(): boolean {
    return !this.#attachment && !this.#released;
  }

  /** Makes the session resumable with the token of `registration`. */
  register(registration: Registration): void {
    this.#registration = registration;
  }

  /** Whether a stream can start at output byte `offset`. */
  holds(offset: number): boolean {
    return !this.#released && this.#buffer.holds(offset);
  }

  resize(rows: number, cols: number): void {
    this.#program.resize(rows, cols);
  }

  /**
   * Serves `channel` from output byte `offset` until the exit frame is sent (and, for a
   * resumable session, the client said close after it), the stream ends, or another stream
   * takes the session over. A stream that ends without a close frame leaves a resumable
   * session kept for its grace period, and hangs any other up.
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
      return closed;
    });
    const inputs = supervise("session input", consumed, {
      log: this.#log,
      onError: () => this.#hangUp(),
    });
    try {
      for (;;) {
        if (stopped) return;
        if (sent < this.#buffer.end) {
          for (const { stream, data } of frames(this.#buffer.taggedFrom(sent))) {
            if (!channel.send(outputData(stream, data))) {
              stopped = true;
              break;
            }
            sent += data.length;
          }
          continue;
        }
        if (this.#exit) {
          const { code, signal, timedOut } = this.#exit;
          channel.send(outputFrame({ case: "exit", value: { code, signal, timedOut } }));
          // A resumable session is let go of once the client says it has the exit; a stream
          // lost before that leaves it kept, to send the exit again to a resumed one.
          if (!this.#registration || (await consumed)) await this.#release();
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

  /**
   * Reads the program's output into the buffer until it is drained, then notes its exit. Each
   * output is read in frames (see {@linkcode OutputReader}): a frame's first read waits for room
   * in the buffer and may overshoot it, as a chunk did; what is joined to it must fit.
   */
  async #run(): Promise<void> {
    const readers = this.#program.outputs.map(({ stream, readable }) => ({
      stream,
      reader: new OutputReader(readable),
    }));
    const output = Promise.all(readers.map(async ({ stream, reader }) => {
      let taken = 0;
      const admit: FrameAdmission = {
        first: async (bytes) => {
          if (!(await this.#buffer.room())) return false;
          taken = bytes;
          this.#reading += bytes;
          return true;
        },
        join: (bytes) => {
          if (this.#buffer.size + this.#reading + bytes > this.#buffer.capacity) return false;
          taken += bytes;
          this.#reading += bytes;
          return true;
        },
      };
      try {
        for (;;) {
          const frame = await reader.next(admit);
          if (!frame) return;
          this.#reading -= taken;
          taken = 0;
          // Kept as it was read: its buffer is never read into again.
          if (!(await this.#buffer.append(frame, stream))) return;
          this.#changed?.();
        }
      } catch {
        // An unreadable output has nothing more to give; the exit status still goes out.
      }
    }));
    const exit = await this.#program.exited;
    // The output ends once it is drained; a client slow to credit holds the exit back.
    const limit = this.#program.drainAfterExitMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const drained = await Promise.race([
      output.then(() => true),
      ...(Number.isFinite(limit)
        ? [new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), limit))]
        : []),
    ]);
    clearTimeout(timer);
    if (!drained) {
      // A background child holds the output open: what was read goes out, the rest is not read.
      for (const { reader } of readers) reader.cancel();
    }
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
          if (msg.value.length === 0) {
            this.#program.endInput();
            continue;
          }
          const bytes = msg.value.length;
          this.#inputOffset += bytes;
          // Not awaited: a program that does not read its input must not hold back the credit
          // frames behind it. The client's input window bounds what can queue here.
          this.#program.write(msg.value).then(
            () => {
              const credit = credits.consumed(bytes);
              if (credit > 0) channel.send(outputFrame({ case: "credit", value: credit }));
            },
            () => {}, // The input is closed; the exit frame follows.
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

  /** No stream is attached: a resumable session waits out its grace, any other hangs up. */
  #detached(): void {
    if (!this.#registration) {
      this.#hangUp().catch(() => {}); // Idempotent; a program already gone has nothing to hang up.
      return;
    }
    this.#log(
      `session ${this.pid}: its stream was lost; kept ${
        Math.round(this.graceMs / 1000)
      } s for the client to resume`,
    );
    this.#graceTimer = setTimeout(() => {
      this.#log(`session ${this.pid}: not resumed within its grace period; hanging up`);
      this.#release().catch(() => {});
    }, this.graceMs);
  }

  /** Hangs the program up; the exit frame follows. */
  #hangUp(): Promise<void> {
    this.#buffer.close();
    return this.#program.hangUp();
  }

  /** The end: no stream can resume it, its processes are hung up, its memory goes. */
  async #release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    clearTimeout(this.#graceTimer);
    this.#registration?.remove();
    this.#attachment?.stop();
    // Jobs a shell left running keep running after it exited on its own, as after `exit`
    // over SSH; while it still runs, this hangs it up.
    await this.#hangUp();
    this.#untrack();
  }
}

/**
 * The buffer's chunks as output frames. A big chunk was joined from reads as it was read and
 * goes alone, framed where it lies; consecutive small ones of one stream (kept while no client
 * read them, or a terminal's) are joined up to {@linkcode FRAME_LIMIT}: every frame costs a
 * message, an envelope and a few stream steps in agent, relay and client alike.
 */
function* frames(
  chunks: { data: Uint8Array; tag: number }[],
): Generator<{ stream: OutputStream; data: Uint8Array }> {
  let parts: Uint8Array[] = [];
  let size = 0;
  let stream = OutputStream.STDOUT;
  const flush = () => {
    const data = parts.length === 1 ? parts[0] : joinWithRoom(parts, size);
    parts = [];
    size = 0;
    return { stream, data };
  };
  for (const { data, tag } of chunks) {
    const alone = data.length >= BUSY_READ && hasRoom(data);
    if (parts.length > 0 && (alone || tag !== stream || size + data.length > FRAME_LIMIT)) {
      yield flush();
    }
    stream = tag;
    parts.push(data);
    size += data.length;
    if (alone) yield flush();
  }
  if (parts.length > 0) yield flush();
}

/** `parts` in one array of `size` bytes (their total length), with room in front for its frame. */
function joinWithRoom(parts: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(FRAME_ROOM + size);
  let offset = FRAME_ROOM;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return withRoom(out.subarray(FRAME_ROOM));
}

/**
 * Attaches `channel` to the kept session its token names, from the client's output offset;
 * refuses with an exit frame naming why it cannot.
 */
export async function resumeKept(
  channel: SessionChannel,
  resume: ResumeSession,
  held: HeldSessions | undefined,
  log: (message: string) => void,
): Promise<void> {
  const what = channel.open.kind === SessionKind.PTY ? "terminal" : "command";
  const refuse = (error: string) =>
    channel.send(outputFrame({ case: "exit", value: { code: 1, error } }));
  const session = await held?.find(resume.token, channel.open.owner, channel.open.kind);
  if (!session) {
    refuse(
      `this ${what} cannot be resumed: it ended, its resume grace ran out, or the agent ` +
        "restarted",
    );
    return;
  }
  const offset = Number(resume.outputOffset);
  if (!session.holds(offset)) {
    refuse(`cannot resume from output byte ${offset}: the machine no longer keeps it`);
    return;
  }
  const { rows, cols } = channel.open;
  if (rows >= 1 && cols >= 1) session.resize(rows, cols);
  log(`${what} ${session.pid}: resumed from output byte ${offset}`);
  await session.attach(channel, offset);
}
