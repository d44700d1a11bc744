/** PtyProcess: a started program's terminal output, input and size, and the release of its fds on exit or hang-up. */

import type { Pty, PtyExit } from "./_pty_types.ts";
import { concatBytes } from "../lib/bytes.ts";
import {
  checkSize,
  EINTR,
  EIO,
  type Libc,
  POLLFD_BYTES,
  POLLIN,
  POLLNVAL,
  POLLOUT,
  setWindowSize,
} from "./_pty_libc.ts";
import { sessionMembers, terminateSession } from "./_pty_session.ts";
import { FRAME_ROOM, withRoom } from "./output_frame.ts";

const READ_CHUNK_BYTES = 64 * 1024;
const QUEUED_CHUNKS = 4;
/** After the program exits, how long to wait for end-of-file before a background job holding the terminal is ignored. */
const EXIT_DRAIN_MS = 100;
/** Output still buffered when the terminal is released is kept up to this; a background job can produce it endlessly. */
const MAX_TAIL_BYTES = 1024 * 1024;
const NVAL_RETRY_MS = 10;

/** Input not yet written, and how its write() settles. */
interface PendingWrite {
  data: Uint8Array;
  resolve(): void;
  reject(error: unknown): void;
}

/** The fds a terminal holds, all closed on release, and how it hangs up. */
export interface PtyFds {
  master: number;
  slave: number;
  /** Written once when the terminal is being released, never drained: wakes every poll() on the master. */
  wakeRead: number;
  wakeWrite: number;
  tty: string;
  graceMs: number;
}

/** The {@linkcode Pty} of a started program; takes ownership of `fds`. */
export class PtyProcess implements Pty {
  readonly pid: number;
  readonly readable: ReadableStream<Uint8Array>;
  readonly exited: Promise<PtyExit>;
  readonly #lib: Libc;
  readonly #fds: PtyFds;
  /** Set when release starts: no poll() may start and writes fail. */
  #stopping = false;
  /** In-flight poll() calls; the fds are closed only after all returned, so none can watch a reused fd number. */
  readonly #polls = new Set<Promise<number>>();
  #released?: Promise<void>;
  #closing?: Promise<void>;
  #programExited = false;
  #slaveOpen = true;
  #eof = false;
  readonly #eofSeen = Promise.withResolvers<void>();
  #readCancelled = false;
  /** Output drained at release, delivered before the stream ends. */
  readonly #tail: Uint8Array[] = [];
  /** Read into behind room for the output frame's header (see output_frame.ts). */
  #buffer = new Uint8Array(FRAME_ROOM + READ_CHUNK_BYTES);
  readonly #readPollFds = new Uint8Array(2 * POLLFD_BYTES);
  readonly #writePollFds = new Uint8Array(2 * POLLFD_BYTES);
  /** Input waiting for room in the terminal's input buffer, in call order. */
  readonly #pending: PendingWrite[] = [];

  constructor(lib: Libc, child: Deno.ChildProcess, fds: PtyFds) {
    this.#lib = lib;
    this.#fds = fds;
    this.pid = child.pid;
    this.readable = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        const chunk = await this.#nextChunk();
        if (this.#readCancelled) return;
        if (chunk) controller.enqueue(chunk);
        else controller.close();
      },
      cancel: () => {
        this.#readCancelled = true;
      },
    }, new CountQueuingStrategy({ highWaterMark: QUEUED_CHUNKS }));
    this.exited = child.status.then((status) =>
      status.signal ? { code: status.code, signal: status.signal } : { code: status.code }
    );
    this.exited.then(() => this.#afterExit());
  }

  write(data: Uint8Array): Promise<void> {
    if (this.#pending.length === 0) {
      // Nothing waits before it (the usual keystroke): written now, no promise chain.
      let written: number;
      try {
        written = this.#writeAvailable(data);
      } catch (error) {
        return Promise.reject(error);
      }
      if (written === data.length) return Promise.resolve();
      data = data.subarray(written);
    }
    const entry = { data, ...Promise.withResolvers<void>() };
    this.#pending.push(entry);
    if (this.#pending.length === 1) void this.#drain();
    return entry.promise;
  }

  resize(rows: number, cols: number): void {
    checkSize(rows, cols);
    if (this.#stopping) return;
    setWindowSize(this.#lib, this.#fds.master, rows, cols);
  }

  close(): Promise<void> {
    this.#closing ??= this.#hangUp();
    return this.#closing;
  }

  async #hangUp(): Promise<void> {
    const members = this.#programExited
      ? undefined
      : await sessionMembers(this.pid, this.#fds.tty).catch(() => () => Promise.resolve([]));
    // Closing the master first makes the kernel hang up the terminal: nothing can block writing to it any more.
    await this.#release();
    if (members) await terminateSession(this.pid, members, this.#fds.graceMs);
    await this.exited;
  }

  async #afterExit(): Promise<void> {
    this.#programExited = true;
    this.#closeSlave();
    if (this.#closing) return;
    // The last output can still be on its way through the kernel; end-of-file says it is all there,
    // unless a background job keeps the terminal open.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#eofSeen.promise,
      new Promise<void>((resolve) => timer = setTimeout(resolve, EXIT_DRAIN_MS)),
    ]);
    clearTimeout(timer);
    await this.#release();
  }

  #release(): Promise<void> {
    this.#released ??= (async () => {
      this.#stopping = true;
      const { master, wakeRead, wakeWrite } = this.#fds;
      this.#lib.write(wakeWrite, new Uint8Array(1));
      while (this.#polls.size > 0) await Promise.allSettled(this.#polls);
      try {
        let kept = 0;
        while (!this.#eof && kept < MAX_TAIL_BYTES) {
          const chunk = this.#readAvailable();
          if (!(chunk instanceof Uint8Array)) break;
          this.#tail.push(chunk);
          kept += chunk.length;
        }
      } catch {
        // What was read is kept; an unreadable terminal has nothing more to give.
      }
      this.#closeSlave();
      this.#lib.close(master);
      this.#lib.close(wakeRead);
      this.#lib.close(wakeWrite);
    })();
    return this.#released;
  }

  /** Once the program is gone, end-of-file can come as soon as its background jobs let go. */
  #closeSlave(): void {
    if (!this.#slaveOpen) return;
    this.#slaveOpen = false;
    this.#lib.close(this.#fds.slave);
  }

  async #nextChunk(): Promise<Uint8Array | undefined> {
    for (;;) {
      if (this.#tail.length > 0) return this.#tail.shift();
      if (this.#eof || this.#readCancelled) return undefined;
      if (this.#stopping) {
        await this.#released;
        if (this.#tail.length > 0) continue;
        return undefined;
      }
      const chunk = this.#readAvailable();
      if (chunk instanceof Uint8Array) return chunk;
      if (chunk === "eof") continue;
      await this.#poll(POLLIN, this.#readPollFds);
    }
  }

  /** Reads what is there, up to one buffer; only called while the master is open. */
  #readAvailable(): Uint8Array | "again" | "eof" {
    const lib = this.#lib;
    const buffer = this.#buffer;
    const size = buffer.length - FRAME_ROOM;
    let filled = 0;
    let end: "again" | "eof" = "again";
    while (filled < size) {
      const n = lib.read(this.#fds.master, buffer.subarray(FRAME_ROOM + filled));
      if (n > 0) {
        filled += n;
        continue;
      }
      const errno = n === 0 ? EIO : lib.errno();
      if (errno === EINTR) continue;
      if (errno === lib.facts.EAGAIN) break;
      // EIO (Linux) or end-of-file (macOS): no process has the terminal open any more.
      if (errno !== EIO) throw new Error(`Cannot read from the terminal: ${lib.strerror(errno)}`);
      end = "eof";
      this.#eof = true;
      this.#eofSeen.resolve();
      break;
    }
    if (filled === 0) return end;
    if (filled === size) {
      // A full buffer is handed over as is, sparing a copy under bulk output.
      this.#buffer = new Uint8Array(FRAME_ROOM + READ_CHUNK_BYTES);
      return withRoom(buffer.subarray(FRAME_ROOM));
    }
    // Copied out with room for the frame's header: the output frame is then built around it.
    const chunk = new Uint8Array(FRAME_ROOM + filled);
    chunk.set(buffer.subarray(FRAME_ROOM, FRAME_ROOM + filled), FRAME_ROOM);
    return withRoom(chunk.subarray(FRAME_ROOM));
  }

  /** Writes what the terminal takes now; returns how much (less than all: its input buffer is full). */
  #writeAvailable(data: Uint8Array): number {
    const lib = this.#lib;
    let offset = 0;
    while (offset < data.length) {
      if (this.#stopping) throw new Deno.errors.BrokenPipe("Terminal is closed");
      const n = lib.write(this.#fds.master, offset === 0 ? data : data.subarray(offset));
      if (n > 0) {
        offset += n;
        continue;
      }
      // Nothing accepted counts as a full buffer, so it is waited on rather than retried in a loop.
      const errno = n === 0 ? lib.facts.EAGAIN : lib.errno();
      if (errno === EINTR) continue;
      if (errno === lib.facts.EAGAIN) return offset;
      if (errno === EIO) throw new Deno.errors.BrokenPipe("Terminal is closed");
      throw new Error(`Cannot write to the terminal: ${lib.strerror(errno)}`);
    }
    return offset;
  }

  /**
   * Waits for room in the terminal's input buffer and writes what waits, joined into one write
   * when more than one write waits; each settles once its bytes are written, or all fail.
   */
  async #drain(): Promise<void> {
    const pending = this.#pending;
    try {
      while (pending.length > 0) {
        await this.#poll(POLLOUT, this.#writePollFds);
        const data = pending.length === 1
          ? pending[0].data
          : concatBytes(pending.map((p) => p.data));
        let written = this.#writeAvailable(data);
        while (pending.length > 0 && written >= pending[0].data.length) {
          written -= pending[0].data.length;
          pending.shift()!.resolve();
        }
        if (written > 0) pending[0].data = pending[0].data.subarray(written);
      }
    } catch (error) {
      for (const entry of pending.splice(0)) entry.reject(error);
    }
  }

  /** Waits until the master is ready for `events` or the terminal is being released. */
  async #poll(events: number, pollFds: Uint8Array): Promise<void> {
    if (this.#stopping) return;
    const view = new DataView(pollFds.buffer);
    view.setInt32(0, this.#fds.master, true);
    view.setInt16(4, events, true);
    view.setInt16(6, 0, true);
    view.setInt32(POLLFD_BYTES, this.#fds.wakeRead, true);
    view.setInt16(POLLFD_BYTES + 4, POLLIN, true);
    view.setInt16(POLLFD_BYTES + 6, 0, true);
    // -1 (EINTR, when a signal lands on the worker thread) needs no handling: the caller retries.
    const polling = this.#lib.poll(pollFds, 2, -1);
    this.#polls.add(polling);
    try {
      await polling;
    } finally {
      this.#polls.delete(polling);
    }
    if ((view.getInt16(6, true) & POLLNVAL) !== 0) {
      // poll() on macOS has not supported every device: wait a little instead of spinning.
      await new Promise((resolve) => setTimeout(resolve, NVAL_RETRY_MS));
    }
  }
}
