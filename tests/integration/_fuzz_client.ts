/** The fuzz test's HTTP/1.1 client: pre-encoded requests on keep-alive sockets, answers parsed just enough to judge. */

/**
 * Why not fetch: at 10,000 requests per route the test process was as much a
 * limit as the relay. Measured here, the test spent ~0.7 ms of CPU per
 * request through fetch (Request, Headers and stream objects, the response
 * body reader) and ~0.3 ms this way, setup included. Each request goes out
 * in one write and its answer is read from a buffer; what is parsed is
 * exactly what the judge reads (status, Content-Type, body), framed by
 * Content-Length or chunked encoding as the relay sends them. The relay
 * compresses no response (its routers accept no compression), so no
 * Accept-Encoding is sent and bodies are judged as they arrive.
 */

import type { FuzzRequest } from "./_fuzz_corpus.ts";

/** An answer as the judge sees it. */
export interface RawAnswer {
  status: number;
  contentType: string;
  body: Uint8Array;
}

/** How much of an answer is read before it is judged on what arrived. */
const MAX_BODY = 4 * 1024 * 1024;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A request as bytes: request line, Host, the request's headers, and a
 * Content-Length where fetch sends one (a body, or a POST or PUT without one).
 *
 * @example
 * ```ts
 * const bytes = encodeRequest("127.0.0.1:4780", { method: "GET", path: "/healthz", headers: {}, kind: "x" });
 * ```
 */
export function encodeRequest(host: string, request: FuzzRequest): Uint8Array {
  let head = `${request.method} ${request.path} HTTP/1.1\r\nhost: ${host}\r\n`;
  for (const [name, value] of Object.entries(request.headers)) head += `${name}: ${value}\r\n`;
  const length = request.body?.length ??
    (request.method === "POST" || request.method === "PUT" ? 0 : undefined);
  if (length !== undefined) head += `content-length: ${length}\r\n`;
  const headBytes = encoder.encode(`${head}\r\n`);
  if (!request.body?.length) return headBytes;
  const out = new Uint8Array(headBytes.length + request.body.length);
  out.set(headBytes);
  out.set(request.body, headBytes.length);
  return out;
}

/** The socket closed (or was reset) before a byte of the answer arrived. */
export class NoAnswerError extends Error {
  constructor(readonly reused: boolean, cause?: unknown) {
    super(`connection closed before an answer${cause ? `: ${cause}` : ""}`);
    this.name = "NoAnswerError";
  }
}

/**
 * One keep-alive connection to the relay, one request at a time. After an
 * answer that leaves the socket in an unknown state (a stream cut short, a
 * timeout, `Connection: close`) it is closed and `alive` turns false.
 *
 * @example
 * ```ts
 * const conn = await RawConnection.open("127.0.0.1", 4780);
 * const answer = await conn.exchange(encodeRequest(host, request), request.method, 5_000);
 * ```
 */
export class RawConnection {
  #conn: Deno.Conn;
  #buffer = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;
  #answered = 0;
  #closed = false;

  private constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Dials `hostname:port` with TCP_NODELAY, as fetch does. */
  static async open(hostname: string, port: number): Promise<RawConnection> {
    const conn = await Deno.connect({ hostname, port });
    conn.setNoDelay(true);
    return new RawConnection(conn);
  }

  /** False once the connection is closed or may not carry another request. */
  get alive(): boolean {
    return !this.#closed;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }

  /**
   * Writes `request` and reads its answer. A Connect stream is read until
   * its first message (the call was accepted: no need to wait for its end)
   * or its end; any answer at most 4 MiB, and within `timeoutMs`, after
   * which it is judged on what arrived. Throws {@linkcode NoAnswerError} when
   * the socket closed before an answer began (`reused` tells a keep-alive
   * race from a relay that hung up on a first request), or another error
   * when the head did not arrive in time.
   */
  async exchange(request: Uint8Array, method: string, timeoutMs: number): Promise<RawAnswer> {
    const reused = this.#answered > 0;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.close();
    }, timeoutMs);
    try {
      let writeError: unknown;
      try {
        await this.#writeAll(request);
      } catch (error) {
        // The relay may answer (a refused credential) and close before the body is all in.
        writeError = error;
      }
      let head;
      try {
        head = await this.#readHead();
      } catch (error) {
        if (writeError === undefined && !timedOut) throw error;
      }
      if (head === undefined) {
        this.close();
        if (timedOut) throw new Error(`no answer within ${timeoutMs} ms`);
        throw new NoAnswerError(reused, writeError);
      }
      const answer = { status: head.status, contentType: head.contentType, body: new Uint8Array() };
      let reusable = false;
      try {
        reusable = await this.#readBody(head, method, answer);
      } catch {
        // Timed out or cut while a stream stayed open: judged on what arrived.
      }
      this.#answered++;
      if (!reusable || head.close) this.close();
      return answer;
    } finally {
      clearTimeout(timer);
    }
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    for (let at = 0; at < bytes.length;) at += await this.#conn.write(bytes.subarray(at));
  }

  /** Reads more into the buffer; false at the end of the stream. */
  async #fill(): Promise<boolean> {
    if (this.#end === this.#buffer.length) {
      if (this.#start > 0) this.#buffer.copyWithin(0, this.#start, this.#end);
      else {
        const grown = new Uint8Array(this.#buffer.length * 2);
        grown.set(this.#buffer);
        this.#buffer = grown;
      }
      this.#end -= this.#start;
      this.#start = 0;
    }
    const n = await this.#conn.read(this.#buffer.subarray(this.#end));
    if (n === null) return false;
    this.#end += n;
    return true;
  }

  /** The status line and headers, or `undefined` when the socket ended before a byte of them. */
  async #readHead(): Promise<
    | { status: number; contentType: string; length?: number; chunked: boolean; close: boolean }
    | undefined
  > {
    // Bytes already searched, counted from #start (#fill may move them to the buffer's front).
    let searched = 0;
    for (;;) {
      const at = indexOfHeadEnd(
        this.#buffer,
        this.#start + Math.max(0, searched - 3),
        this.#end,
      );
      if (at >= 0) {
        const lines = decoder.decode(this.#buffer.subarray(this.#start, at)).split("\r\n");
        this.#start = at + 4;
        const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0])?.[1]);
        if (!status) throw new Error(`not an HTTP answer: ${JSON.stringify(lines[0])}`);
        const head = { status, contentType: "", chunked: false, close: false } as {
          status: number;
          contentType: string;
          length?: number;
          chunked: boolean;
          close: boolean;
        };
        for (const line of lines.slice(1)) {
          const colon = line.indexOf(":");
          const name = line.slice(0, colon).toLowerCase();
          const value = line.slice(colon + 1).trim();
          if (name === "content-type") head.contentType = value;
          else if (name === "content-length") head.length = Number(value);
          else if (name === "transfer-encoding") head.chunked = /chunked/i.test(value);
          else if (name === "connection") head.close = /close/i.test(value);
        }
        return head;
      }
      searched = this.#end - this.#start;
      const started = searched > 0;
      // Closed or reset before a byte of the answer: `undefined`, the caller decides.
      const more = await this.#fill().catch((error) => {
        if (started) throw error;
        return false;
      });
      if (!more) {
        if (started) throw new Error("connection closed in the middle of an answer's head");
        return undefined;
      }
    }
  }

  /** Reads the body into `answer`; true when it was read to its end and the socket may carry another request. */
  async #readBody(
    head: { status: number; contentType: string; length?: number; chunked: boolean },
    method: string,
    answer: RawAnswer,
  ): Promise<boolean> {
    if (method === "HEAD" || head.status === 204 || head.status === 304 || head.status < 200) {
      return true;
    }
    const chunks: Uint8Array[] = [];
    let total = 0;
    const take = (n: number) => {
      const piece = this.#buffer.slice(this.#start, this.#start + n);
      this.#start += n;
      chunks.push(piece);
      total += piece.length;
    };
    const finish = () => (answer.body = concat(chunks, total));
    // A stream that sent a message has accepted the call: judged without waiting for its end.
    const streamAccepted = () =>
      head.contentType.startsWith("application/connect+") && chunks[0]?.[0] === 0;
    try {
      if (!head.chunked) {
        let left = head.length ?? Infinity;
        while (left > 0) {
          if (this.#end === this.#start && !(await this.#fill())) return false;
          const n = Math.min(left, this.#end - this.#start);
          take(n);
          left -= n;
          if (streamAccepted() || total > MAX_BODY) return false;
        }
        return true;
      }
      for (;;) {
        const line = await this.#readLine();
        const size = parseInt(line, 16);
        if (Number.isNaN(size)) throw new Error(`bad chunk size ${JSON.stringify(line)}`);
        if (size === 0) {
          while ((await this.#readLine()) !== "") { /* trailers */ }
          return true;
        }
        let left = size;
        while (left > 0) {
          if (this.#end === this.#start && !(await this.#fill())) return false;
          const n = Math.min(left, this.#end - this.#start);
          take(n);
          left -= n;
        }
        if ((await this.#readLine()) !== "") throw new Error("chunk without its CRLF");
        if (streamAccepted() || total > MAX_BODY) return false;
      }
    } finally {
      finish();
    }
  }

  async #readLine(): Promise<string> {
    for (;;) {
      const at = this.#buffer.subarray(this.#start, this.#end).indexOf(0x0a);
      if (at >= 0) {
        const line = decoder.decode(this.#buffer.subarray(this.#start, this.#start + at));
        this.#start += at + 1;
        return line.endsWith("\r") ? line.slice(0, -1) : line;
      }
      if (!(await this.#fill())) throw new Error("connection closed in the middle of a chunk");
    }
  }
}

/** Where `\r\n\r\n` starts in `bytes[from, to)`, or -1. */
function indexOfHeadEnd(bytes: Uint8Array, from: number, to: number): number {
  for (let i = from; i + 3 < to; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) {
      return i;
    }
  }
  return -1;
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  chunks.reduce((at, c) => (out.set(c, at), at + c.length), 0);
  return out;
}
