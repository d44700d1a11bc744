/** OutputReader: a program's output read straight into frame buffers, with room in front for the frame's header, reads already waiting joined into one frame. */
import { FRAME_ROOM, hasRoom, withRoom } from "./output_frame.ts";

/**
 * Frames grow up to this many bytes. Measured here, 1 GB of `head -c` through
 * exec: 64 KiB 4.4 s, 256 KiB 3.8 s, 1 MiB 3.1 s, 2 MiB 3.1 s (per-frame work in
 * Connect's pipelines dominates); 1 MiB keeps four frames in a 4 MiB window.
 */
export const FRAME_LIMIT = 1024 * 1024;
/** A read at least this big means the pipe was backed up: more is likely waiting. */
export const BUSY_READ = 16 * 1024;
/** What a frame's first read may fill while output comes in small pieces: one pipe's worth. */
const QUIET_READ = 64 * 1024;

/** How much output may be taken into frames: credit, or room in a replay buffer. */
export interface FrameAdmission {
  /** Waits for room for a frame's first read of `bytes`, which may overshoot; false: stop reading. */
  first(bytes: number): Promise<boolean>;
  /** Takes `bytes` more for the frame if they fit now; never waits, never overshoots. */
  join(bytes: number): boolean;
}

type Read = ReadableStreamReadResult<Uint8Array>;
const TICK = Symbol("tick");

/**
 * Reads a stream into frames of up to `limit` bytes, each a view with {@linkcode FRAME_ROOM}
 * bytes of room in front (see `output_frame.ts`), so that it is sent without being copied.
 * A byte stream (a child's pipe) is read with a BYOB reader straight into the frame's buffer:
 * the kernel's copy is the only one. A small read (interactive output) makes a frame at once;
 * after a big one, reads that are already waiting (they settle before a timer tick) are joined
 * to it while they fit the admission. A read that did not settle in time, or did not fit, is
 * the next frame's first read; its buffer is that frame's, never one handed out before.
 *
 * @example
 * ```ts
 * const reader = new OutputReader(child.stdout);
 * for (let f = await reader.next(gate); f; f = await reader.next(gate)) send(f);
 * ```
 */
export class OutputReader {
  readonly #limit: number;
  readonly #byob?: ReadableStreamBYOBReader;
  readonly #plain?: ReadableStreamDefaultReader<Uint8Array>;
  /** The next frame's first read, already under way (or done). */
  #ahead?: Promise<Read>;
  /** The last frame was big: the next one's first read gets a whole frame's room. */
  #busy = false;
  /** A buffer nothing refers to any more (its bytes were copied out): read into it again. */
  #spare?: ArrayBuffer;
  #finished = false;

  constructor(stream: ReadableStream<Uint8Array>, limit = FRAME_LIMIT) {
    this.#limit = limit;
    try {
      this.#byob = stream.getReader({ mode: "byob" });
    } catch {
      // Not a byte stream: its chunks are copied into frames.
      this.#plain = stream.getReader();
    }
  }

  /** The next frame, or undefined at the end of the stream or when `admit` says stop. */
  async next(admit: FrameAdmission): Promise<Uint8Array | undefined> {
    const first = await (this.#ahead ?? this.#read(this.#busy ? this.#limit : QUIET_READ));
    this.#ahead = undefined;
    if (first.done) {
      this.#finished = true;
      return undefined;
    }
    if (!(await admit.first(first.value.length))) return undefined;
    let frame = this.#plain ? this.#placed(first.value) : first.value;
    this.#busy = frame.length >= BUSY_READ;
    if (this.#busy) frame = await this.#join(frame, admit);
    return withRoom(this.#fitted(frame));
  }

  /** Stops reading: the stream is cancelled unless it has ended. */
  cancel(): void {
    if (this.#finished) return;
    this.#finished = true;
    (this.#byob ?? this.#plain)!.cancel().catch(() => {});
  }

  /** Joins the reads that are already waiting to `frame` (at `FRAME_ROOM` in its buffer). */
  async #join(frame: Uint8Array, admit: FrameAdmission): Promise<Uint8Array> {
    const buffer = frame.buffer as ArrayBuffer;
    const capacity = Math.min(this.#limit, buffer.byteLength - FRAME_ROOM);
    let size = frame.length;
    while (size < capacity) {
      // Into a buffer of its own: one that is waited on cannot be sent meanwhile.
      const read = this.#read(this.#limit);
      const next = await Promise.race([read, tick()]);
      if (next === TICK || next.done) {
        this.#ahead = read;
        // Awaited by the next call, if there is one: a stream that fails meanwhile is no crash.
        read.catch(() => {});
        break;
      }
      const more = next.value;
      if (size + more.length > capacity || !admit.join(more.length)) {
        this.#ahead = read;
        break;
      }
      new Uint8Array(buffer, FRAME_ROOM + size, more.length).set(more);
      size += more.length;
      if (this.#byob) this.#spare = more.buffer as ArrayBuffer;
    }
    return new Uint8Array(buffer, FRAME_ROOM, size);
  }

  /**
   * A frame that uses less than half its buffer is copied into one of its size: kept output
   * (a replay buffer holds a window of it) must not pin a megabyte per small frame.
   */
  #fitted(frame: Uint8Array): Uint8Array {
    const buffer = frame.buffer as ArrayBuffer;
    if (2 * (FRAME_ROOM + frame.length) >= buffer.byteLength) return frame;
    const fitted = new Uint8Array(FRAME_ROOM + frame.length);
    fitted.set(frame, FRAME_ROOM);
    if (this.#byob) this.#spare = buffer;
    return fitted.subarray(FRAME_ROOM);
  }

  /** A plain stream's chunk behind `FRAME_ROOM` (copied there), with room to join more to a big one. */
  #placed(chunk: Uint8Array): Uint8Array {
    // Read with room already (a terminal's output): a small one is its own frame as it is.
    if (chunk.length < BUSY_READ && hasRoom(chunk)) return chunk;
    const capacity = chunk.length >= BUSY_READ ? Math.max(this.#limit, chunk.length) : chunk.length;
    const out = new Uint8Array(FRAME_ROOM + capacity);
    out.set(chunk, FRAME_ROOM);
    return out.subarray(FRAME_ROOM, FRAME_ROOM + chunk.length);
  }

  /**
   * One read: from a byte stream into a buffer with room for `capacity` bytes behind
   * `FRAME_ROOM`; from a plain stream its next chunk as it is.
   */
  #read(capacity: number): Promise<Read> {
    if (this.#plain) return this.#plain.read();
    let buffer = this.#spare;
    this.#spare = undefined;
    if (!buffer || buffer.byteLength < FRAME_ROOM + capacity) {
      buffer = new ArrayBuffer(FRAME_ROOM + capacity);
    }
    return this.#byob!.read(new Uint8Array(buffer, FRAME_ROOM, capacity));
  }
}

function tick(): Promise<typeof TICK> {
  return new Promise((resolve) => setTimeout(() => resolve(TICK), 0));
}
