/** TerminalInput: the one reader of the keyboard, lent in turn to prompts and sessions so no keystroke goes astray. */

/** Receives keystrokes in order; `null` once the input has ended. Delivery waits for a returned promise. */
export type InputSink = (chunk: Uint8Array | null) => void | Promise<void>;

/** Chunks kept while nobody listens (or the listener is slow) before reading pauses. */
const MAX_HELD_CHUNKS = 64;

/**
 * Reads a stream (the CLI's stdin) with a single reader for the whole run and
 * hands what arrives to whichever sink is lent the input now. Two readers of
 * one terminal race for each keystroke, and a read cannot be taken back once
 * it is pending: with one reader, keys typed while a picker gives way to a
 * session (or back) reach the next sink instead of vanishing.
 *
 * @example
 * ```ts
 * const input = new TerminalInput(ctx.stdin.readable);
 * const release = input.lend((chunk) => chunk && session.write(chunk));
 * // … later
 * release();
 * ```
 */
export class TerminalInput {
  readonly #readable: ReadableStream<Uint8Array>;
  #reading = false;
  #sink?: InputSink;
  readonly #held: (Uint8Array | null)[] = [];
  #delivering = false;
  #roomForMore?: () => void;

  constructor(readable: ReadableStream<Uint8Array>) {
    this.#readable = readable;
  }

  /**
   * Routes the input to `sink` until the returned function is called. Keys
   * typed while nobody listened come first. Only one sink at a time.
   */
  lend(sink: InputSink): () => void {
    if (this.#sink) throw new Error("the terminal's input is already in use");
    this.#sink = sink;
    this.#startReading();
    this.#deliver();
    return () => {
      if (this.#sink === sink) this.#sink = undefined;
    };
  }

  #startReading(): void {
    if (this.#reading) return;
    this.#reading = true;
    (async () => {
      const read = chunkReader(this.#readable);
      for (;;) {
        while (this.#held.length >= MAX_HELD_CHUNKS) {
          await new Promise<void>((resolve) => this.#roomForMore = resolve);
        }
        let chunk: Uint8Array | null;
        try {
          chunk = await read();
        } catch {
          chunk = null; // An unreadable terminal (hung up) is the end of input.
        }
        this.#held.push(chunk);
        this.#deliver();
        if (chunk === null) return;
      }
    })();
  }

  #deliver(): void {
    if (this.#delivering) return;
    this.#delivering = true;
    (async () => {
      while (this.#sink && this.#held.length > 0) {
        const sink = this.#sink;
        const chunk = this.#held[0];
        // The end of input is told to every later sink too.
        if (chunk !== null) this.#held.shift();
        this.#roomForMore?.();
        this.#roomForMore = undefined;
        try {
          await sink(chunk);
        } catch {
          // A sink's failure is its own business; the next keystroke still goes out.
        }
        if (chunk === null) break;
      }
      this.#delivering = false;
    })();
  }
}

/** Bytes asked for per read of the keyboard (a paste may bring more; it comes in pieces). */
const READ_BYTES = 16 * 1024;

/**
 * Reads a stream chunk by chunk, each chunk its own copy. A byte stream (Deno's stdin) is read
 * with a BYOB reader into one buffer, read into again and again: a default read of it
 * allocates a fresh 64 KiB buffer per keystroke.
 */
function chunkReader(readable: ReadableStream<Uint8Array>): () => Promise<Uint8Array | null> {
  let byob: ReadableStreamBYOBReader | undefined;
  try {
    byob = readable.getReader({ mode: "byob" });
  } catch {
    // Not a byte stream: read below.
  }
  if (byob) {
    const reader = byob;
    let buffer = new Uint8Array(READ_BYTES);
    return async () => {
      const next = await reader.read(buffer);
      if (next.done) return null;
      // The read moved the buffer: the same memory, under a new ArrayBuffer.
      buffer = new Uint8Array(next.value.buffer);
      return next.value.slice();
    };
  }
  const reader = readable.getReader();
  return async () => {
    const next = await reader.read();
    return next.done ? null : next.value;
  };
}
