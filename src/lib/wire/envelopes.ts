/** Connect envelopes (flags byte, 32-bit length, message) split out of a byte stream with as few copies as possible. */

/**
 * The largest message a client takes from the relay, enveloped or whole (a unary body): far above
 * the relay's own frames (output at most 1 MiB, a page of 1,000 audit events, a list of 10,000
 * machines at ~3 MB), and far below the 4 GiB a 32-bit length could announce. A peer that lies
 * about a length is refused as soon as the length is read, never buffered up to it.
 */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/** Messages larger than this are read into their own buffer when the stream allows it. */
const DIRECT_BYTES = 64 * 1024;

/**
 * Writes a plain message's envelope header (flags 0, the length) into the 5 bytes of room in
 * front of it, as the lean encoders leave them; returns the same array.
 *
 * @example
 * ```ts
 * socket.write(writeEnvelopeHead(encodeSessionInput(input, 5)));
 * ```
 */
export function writeEnvelopeHead(envelope: Uint8Array): Uint8Array {
  const length = envelope.length - 5;
  envelope[0] = 0;
  envelope[1] = length >>> 24;
  envelope[2] = (length >>> 16) & 0xff;
  envelope[3] = (length >>> 8) & 0xff;
  envelope[4] = length & 0xff;
  return envelope;
}

/** One enveloped message; `flags & 2` marks the end-of-stream message. */
export interface Envelope {
  flags: number;
  data: Uint8Array;
}

/**
 * Splits a byte stream into envelopes. A message that arrived in one piece is
 * handed on as a view of it; one spread over several pieces is joined once. When the
 * stream can also be read into a buffer of the caller's (`readInto`, the CLI's HTTP/1.1
 * client), the rest of a large message is read straight into its own buffer instead.
 *
 * @example
 * ```ts
 * for await (const { flags, data } of splitEnvelopes(response.body)) handle(flags, data);
 * ```
 */
export async function* splitEnvelopes(
  pieces: AsyncIterable<Uint8Array> & { readInto?: (dest: Uint8Array) => Promise<number> },
  maxBytes = MAX_MESSAGE_BYTES,
): AsyncGenerator<Envelope> {
  const readInto = pieces.readInto;
  // Pieces not yet consumed, none of them empty.
  const queue: Uint8Array[] = [];
  let queued = 0;
  for await (const piece of pieces) {
    if (piece.length === 0) continue;
    queue.push(piece);
    queued += piece.length;
    while (queued >= 5) {
      const head = queue[0].length >= 5 ? queue[0] : take(queue, 5, false);
      const length = ((head[1] << 24) >>> 0) + (head[2] << 16) + (head[3] << 8) + head[4];
      if (length > maxBytes) throw tooLarge(length, maxBytes);
      if (queued < 5 + length) {
        if (!readInto || 5 + length <= DIRECT_BYTES) break;
        // The rest of a large message straight into its own buffer: no join of pieces.
        const own = new Uint8Array(5 + length);
        let filled = 0;
        for (const piece of queue) {
          own.set(piece, filled);
          filled += piece.length;
        }
        queue.length = 0;
        queued = 0;
        while (filled < own.length) {
          const n = await readInto(own.subarray(filled));
          if (n === 0) throw new Error("protocol error: incomplete envelope");
          filled += n;
        }
        yield { flags: own[0], data: own.subarray(5) };
        continue;
      }
      const flags = head[0];
      const envelope = take(queue, 5 + length, true);
      queued -= 5 + length;
      while (queue.length > 0 && queue[0].length === 0) queue.shift();
      yield { flags, data: envelope.subarray(5) };
    }
  }
  if (queued > 0) throw new Error("protocol error: incomplete envelope");
}

/** The first `n` queued bytes (consumed when `consume`), a view when they sit in one piece. */
function take(queue: Uint8Array[], n: number, consume: boolean): Uint8Array {
  if (queue[0].length >= n) {
    const view = queue[0].subarray(0, n);
    if (consume) queue[0] = queue[0].subarray(n);
    return view;
  }
  const out = new Uint8Array(n);
  let filled = 0;
  for (let i = 0; filled < n; i++) {
    const part = queue[i].subarray(0, n - filled);
    out.set(part, filled);
    filled += part.length;
    if (consume) queue[i] = queue[i].subarray(part.length);
  }
  return out;
}

/**
 * A whole body as one array (a view when it came in one piece).
 *
 * @example
 * ```ts
 * const bytes = await joinPieces(response.body);
 * ```
 */
export async function joinPieces(
  pieces: AsyncIterable<Uint8Array>,
  maxBytes = MAX_MESSAGE_BYTES,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const piece of pieces) {
    parts.push(piece);
    size += piece.length;
    if (size > maxBytes) throw tooLarge(size, maxBytes);
  }
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function tooLarge(bytes: number, maxBytes: number): Error {
  return new Error(
    `protocol error: the relay sent a message of ${bytes} bytes, more than the ${maxBytes} a ` +
      "client takes (a proxy or server that is not a cmdop relay?)",
  );
}
