/** The HTTP/1.1 response side of createHttp1Client: buffered socket reads, the head, chunked and sized bodies. */

const EMPTY = new Uint8Array(0);
const decoder = new TextDecoder();
/** Reads start small (idle streams hold one pending read each) and grow while a body streams. */
const MIN_READ = 8 * 1024;
const MAX_READ = 1024 * 1024;
const MAX_HEAD = 64 * 1024;
/** Reads up to this size are copied out of the read buffer, which is then read into again. */
const COPY_BYTES = 1024;

/**
 * A socket with a read buffer. Bytes handed out are views of buffers that are
 * never written again, so callers may keep them without copying.
 *
 * @example
 * ```ts
 * const source = new ByteSource(await Deno.connect({ port: 4780 }));
 * const line = await source.readLine();
 * ```
 */
export class ByteSource {
  #conn: Deno.Conn;
  #buf: Uint8Array = EMPTY;
  #pos = 0;
  #readSize = MIN_READ;
  /** The last read's buffer when nothing of it was handed out: read into again. */
  #spare?: Uint8Array;
  closed = false;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Reads more from the socket, keeping unread bytes; false at end of stream. */
  async fill(): Promise<boolean> {
    const chunk = this.#spare?.length === this.#readSize
      ? this.#spare
      : new Uint8Array(this.#readSize);
    this.#spare = undefined;
    const n = await this.#conn.read(chunk);
    if (n === null) return false;
    // A full read means more is queued: read bigger next time, up to MAX_READ. A read of a
    // quarter or less means the stream went quiet: halve back toward MIN_READ, or after bulk
    // output every keystroke's read would allocate (and zero) a megabyte.
    if (n === this.#readSize) this.#readSize = Math.min(MAX_READ, this.#readSize * 2);
    else if (n <= this.#readSize / 4) this.#readSize = Math.max(MIN_READ, this.#readSize / 2);
    let fresh = chunk.subarray(0, n);
    if (n <= COPY_BYTES) {
      // A keystroke's echo: copied out, and the read buffer kept for the next read.
      fresh = chunk.slice(0, n);
      this.#spare = chunk;
    }
    const left = this.#buf.length - this.#pos;
    if (left === 0) this.#buf = fresh;
    else {
      const merged = new Uint8Array(left + n);
      merged.set(this.#buf.subarray(this.#pos));
      merged.set(fresh, left);
      this.#buf = merged;
    }
    this.#pos = 0;
    return true;
  }

  /** Up to `max` bytes: what is buffered, else one read; `undefined` at end of stream. */
  async readUpTo(max: number): Promise<Uint8Array | undefined> {
    if (this.#pos === this.#buf.length && !(await this.fill())) return undefined;
    const end = Math.min(this.#buf.length, this.#pos + max);
    const part = this.#buf.subarray(this.#pos, end);
    this.#pos = end;
    return part;
  }

  /** One line without its CRLF, as text. */
  async readLine(limit = MAX_HEAD): Promise<string> {
    for (;;) {
      const at = indexOfCrlf(this.#buf, this.#pos);
      if (at >= 0) {
        const line = decoder.decode(this.#buf.subarray(this.#pos, at));
        this.#pos = at + 2;
        return line;
      }
      if (this.#buf.length - this.#pos > limit) throw new Error("HTTP line too long");
      if (!(await this.fill())) throw new Error("connection closed mid-response");
    }
  }

  /**
   * Reads into `dest`: what is buffered, else one read of the socket straight into it (no copy
   * of ours). Resolves the bytes read, 0 at end of stream.
   */
  async readInto(dest: Uint8Array): Promise<number> {
    const buffered = this.#buf.length - this.#pos;
    if (buffered > 0) {
      const n = Math.min(buffered, dest.length);
      dest.set(this.#buf.subarray(this.#pos, this.#pos + n));
      this.#pos += n;
      return n;
    }
    return (await this.#conn.read(dest)) ?? 0;
  }

  async write(bytes: Uint8Array): Promise<void> {
    let written = 0;
    while (written < bytes.length) written += await this.#conn.write(bytes.subarray(written));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed by the peer or by an abort.
    }
  }
}

/** What the status line and headers said. */
export interface ResponseHead {
  status: number;
  header: Headers;
  chunked: boolean;
  contentLength?: number;
  keepAlive: boolean;
}

/**
 * Reads a response head, skipping interim (1xx) responses.
 *
 * @example
 * ```ts
 * const head = await readHead(source);
 * ```
 */
export async function readHead(source: ByteSource): Promise<ResponseHead> {
  for (;;) {
    const status = /^HTTP\/1\.([01]) (\d{3})/.exec(await source.readLine());
    if (!status) throw new Error("malformed HTTP status line");
    const header = new Headers();
    for (let line = await source.readLine(); line !== ""; line = await source.readLine()) {
      const colon = line.indexOf(":");
      if (colon > 0) header.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    }
    const code = Number(status[2]);
    if (code >= 100 && code < 200) continue;
    const connection = header.get("connection")?.toLowerCase() ?? "";
    const length = header.get("content-length");
    return {
      status: code,
      header,
      chunked: /chunked/i.test(header.get("transfer-encoding") ?? ""),
      contentLength: length === null ? undefined : Number(length),
      keepAlive: status[1] === "1"
        ? !connection.includes("close")
        : connection.includes("keep-alive"),
    };
  }
}

/**
 * A chunked body, yielded as views of the socket's buffers, or read into the caller's buffer
 * ({@linkcode ChunkedBody.readInto}) between items: a large message straight from the socket.
 *
 * @example
 * ```ts
 * for await (const bytes of chunkedBody(source)) consume(bytes);
 * ```
 */
export function chunkedBody(source: ByteSource): ChunkedBody {
  return new ChunkedBody(source);
}

/** What {@linkcode chunkedBody} returns. */
export class ChunkedBody implements AsyncIterable<Uint8Array> {
  #source: ByteSource;
  /** Bytes of the current chunk not read yet; -1 before the first chunk. */
  #left = -1;
  #ended = false;

  constructor(source: ByteSource) {
    this.#source = source;
  }

  /** Makes sure a chunk has bytes left to read; false at the end of the body. */
  async #inChunk(): Promise<boolean> {
    if (this.#left > 0) return true;
    if (this.#ended) return false;
    const source = this.#source;
    if (this.#left === 0 && (await source.readLine()) !== "") {
      throw new Error("malformed HTTP chunk end");
    }
    const size = parseInt((await source.readLine()).split(";", 1)[0].trim(), 16);
    if (!Number.isFinite(size) || size < 0) throw new Error("malformed HTTP chunk size");
    if (size === 0) {
      while ((await source.readLine()) !== "");
      this.#ended = true;
      return false;
    }
    this.#left = size;
    return true;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    while (await this.#inChunk()) {
      const part = await this.#source.readUpTo(this.#left);
      if (!part) throw new Error("connection closed mid-response");
      this.#left -= part.length;
      yield part;
    }
  }

  /** Reads the body's next bytes into `dest` (within one chunk); 0 at the end of the body. */
  async readInto(dest: Uint8Array): Promise<number> {
    if (!(await this.#inChunk())) return 0;
    const n = await this.#source.readInto(dest.subarray(0, Math.min(dest.length, this.#left)));
    if (n === 0) throw new Error("connection closed mid-response");
    this.#left -= n;
    return n;
  }
}

/**
 * A body of `length` bytes (`Infinity`: until the connection closes).
 *
 * @example
 * ```ts
 * for await (const bytes of lengthBody(source, 42)) consume(bytes);
 * ```
 */
export async function* lengthBody(source: ByteSource, length: number): AsyncGenerator<Uint8Array> {
  for (let left = length; left > 0;) {
    const part = await source.readUpTo(left);
    if (!part) {
      if (length === Infinity) return;
      throw new Error("connection closed mid-response");
    }
    left -= part.length;
    yield part;
  }
}

function indexOfCrlf(buf: Uint8Array, from: number): number {
  for (let i = buf.indexOf(13, from); i >= 0 && i < buf.length - 1; i = buf.indexOf(13, i + 1)) {
    if (buf[i + 1] === 10) return i;
  }
  return -1;
}
