/** Connect envelopes read from a request body with BYOB reads: a large message is read straight into its own buffer. */

/** Bytes asked for per read while messages are small (interactive frames, credits). */
const READ_BYTES = 64 * 1024;

/**
 * Envelopes up to this size (header included) are copied out of the read buffer, which is then
 * read into again; larger ones are handed out as views of it, and the next read gets a fresh one.
 */
const COPY_BYTES = 1024;

/** An envelope's 5 header bytes: its flags and its 32-bit length. */
const HEAD = 5;

/** A request body read as envelopes. */
export interface BodyEnvelopes {
  /** Each message as a view with its own 5 header bytes just before it, in the same buffer. */
  messages: AsyncGenerator<{ flags: number; data: Uint8Array }>;
  /** The body as a default reader (reads of up to 64 KiB), for letting it go. */
  rest: ReadableStreamDefaultReader<Uint8Array>;
}

/**
 * Splits a byte stream (a request body) into envelopes. A small message (up to 1 KiB) is copied
 * out, so that reads of keystrokes and credits all go into one buffer; larger messages that
 * arrive together are views of one 64 KiB read; a message larger than what is buffered gets a buffer of its own
 * and the rest of it is read into that buffer in place: no join, no second copy (with default
 * reads, joining the agent's 1 MiB frames from 64 KiB pieces took ~13 % of the relay's CPU
 * through 1 GB of exec output). A buffer once handed out is never read into again (a BYOB
 * read detaches it). A length past `maxBytes` throws `tooLarge(length)` as soon as it is read;
 * a body ending inside an envelope throws too.
 *
 * @example
 * ```ts
 * const { messages } = bodyEnvelopes(request.body!, 4 << 20, (n) => new Error(`${n} bytes`));
 * for await (const { data } of messages) handle(data);
 * ```
 */
export function bodyEnvelopes(
  body: ReadableStream<Uint8Array>,
  maxBytes: number,
  tooLarge: (length: number) => Error,
): BodyEnvelopes {
  const { read, cancel } = byobReads(body);
  const rest = {
    read: async () => {
      const value = await read(new Uint8Array(READ_BYTES));
      return value ? { done: false, value } : { done: true, value: undefined };
    },
    cancel,
  } as ReadableStreamDefaultReader<Uint8Array>;
  return { messages: split(read, maxBytes, tooLarge), rest };
}

/**
 * Reads into the caller's buffer: a BYOB read where the body is a byte stream (a streamed
 * request body), else a default read copied in (Deno hands a body that came whole with its
 * head as a plain stream, which refuses BYOB readers).
 */
function byobReads(body: ReadableStream<Uint8Array>) {
  let byob: ReadableStreamBYOBReader | undefined;
  try {
    byob = body.getReader({ mode: "byob" });
  } catch {
    // Not a byte stream: read below.
  }
  if (byob) {
    const reader = byob;
    return {
      read: async (into: Uint8Array): Promise<Uint8Array | undefined> => {
        const result = await reader.read(into);
        return result.done ? undefined : result.value;
      },
      cancel: (reason?: unknown) => reader.cancel(reason),
    };
  }
  const reader = body.getReader();
  let left: Uint8Array = new Uint8Array(0);
  return {
    read: async (into: Uint8Array): Promise<Uint8Array | undefined> => {
      while (left.length === 0) {
        const result = await reader.read();
        if (result.done) return undefined;
        left = result.value;
      }
      const n = Math.min(into.length, left.length);
      into.set(left.subarray(0, n));
      left = left.subarray(n);
      return into.subarray(0, n);
    },
    cancel: (reason?: unknown) => reader.cancel(reason),
  };
}

async function* split(
  read: (into: Uint8Array) => Promise<Uint8Array | undefined>,
  maxBytes: number,
  tooLarge: (length: number) => Error,
): AsyncGenerator<{ flags: number; data: Uint8Array }> {
  // Unread bytes: buf[start, end). Once a view of buf was handed out (`lent`) it is never read
  // into again (a BYOB read detaches it); until then every read goes into the same memory.
  let buf: Uint8Array = new Uint8Array(0);
  let start = 0;
  let end = 0;
  let lent = false;
  /** Reads more behind the unread bytes: into buf when it may be, else into a fresh buffer. */
  const more = async (want: number): Promise<boolean> => {
    const unread = end - start;
    let into = buf;
    if (lent || buf.length < want) {
      into = new Uint8Array(Math.max(want, READ_BYTES));
      into.set(buf.subarray(start, end));
      lent = false;
    } else if (start > 0) into.copyWithin(0, start, end);
    const got = await read(into.subarray(unread));
    if (!got) return false;
    // The read moved the buffer: the same memory, under a new ArrayBuffer.
    buf = new Uint8Array(got.buffer);
    start = 0;
    end = unread + got.length;
    return true;
  };
  for (;;) {
    while (end - start < HEAD) {
      if (!(await more(HEAD))) {
        if (end > start) throw new Error("protocol error: incomplete envelope");
        return;
      }
    }
    const flags = buf[start];
    const length = new DataView(buf.buffer, buf.byteOffset + start + 1, 4).getUint32(0);
    if (length > maxBytes) throw tooLarge(length);
    const total = HEAD + length;
    if (end - start < total) {
      if (total > READ_BYTES) {
        yield { flags, data: await large(read, buf.subarray(start, end), total) };
        // Nothing of buf was handed out by that: it is read into again.
        start = end = 0;
        continue;
      }
      while (end - start < total) {
        if (!(await more(total))) throw new Error("protocol error: incomplete envelope");
      }
    }
    let data: Uint8Array;
    if (total <= COPY_BYTES) {
      // A keystroke, a credit: copied out (on V8's heap up to 64 bytes), so the read buffer
      // stays free for the next read instead of a fresh 64 KiB per small read.
      data = buf.slice(start, start + total).subarray(HEAD);
    } else {
      data = buf.subarray(start + HEAD, start + total);
      lent = true;
    }
    start += total;
    yield { flags, data };
  }
}

/** A message larger than one read: its own buffer, filled in place. */
async function large(
  read: (into: Uint8Array) => Promise<Uint8Array | undefined>,
  head: Uint8Array,
  total: number,
): Promise<Uint8Array> {
  let own: Uint8Array = new Uint8Array(total);
  own.set(head);
  let filled = head.length;
  while (filled < total) {
    const got = await read(own.subarray(filled));
    if (!got) throw new Error("protocol error: incomplete envelope");
    // The read moved the buffer: the same memory, under a new ArrayBuffer.
    own = new Uint8Array(got.buffer, 0, total);
    filled += got.length;
  }
  return own.subarray(HEAD);
}
