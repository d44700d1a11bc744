/** createHttp1Client: Connect's HTTP client over plain sockets with TCP_NODELAY, full duplex, HTTP/1.1. */
import { concatBytes } from "./bytes.ts";
import type {
  UniversalClientFn,
  UniversalClientRequest,
  UniversalClientResponse,
} from "@connectrpc/connect/protocol";
import { ByteSource, ChunkedBody, chunkedBody, lengthBody, readHead } from "./http1_wire.ts";

/** Options of {@linkcode createHttp1Client}. */
export interface Http1ClientOptions {
  /** PEM CA certificates trusted for `https://` besides the default roots. */
  caCerts?: string[];
  /** How long an idle kept-alive connection is reused; default 2 s. */
  idleMs?: number;
}

interface Idle {
  source: ByteSource;
  since: number;
}

const encoder = new TextEncoder();
const CRLF = encoder.encode("\r\n");
const LAST_CHUNK = encoder.encode("0\r\n\r\n");
/** Frames smaller than this are copied into one write with their chunk header: one segment. */
const COALESCE_BYTES = 16 * 1024;

/**
 * An HTTP/1.1 client for Connect transports that sets TCP_NODELAY on its
 * sockets. Deno's fetch leaves Nagle's algorithm on, and a small frame
 * written while the previous one is unacknowledged waits for the relay's
 * delayed ACK (~40 ms on Linux): that was most of an exec's round trip.
 * Request bodies stream full duplex with chunked encoding; a connection is
 * kept for reuse only briefly, so that a CLI's calls share one handshake.
 *
 * @example
 * ```ts
 * const transport = createTransport({ httpClient: createHttp1Client(), baseUrl, … });
 * ```
 */
export function createHttp1Client(options: Http1ClientOptions = {}): UniversalClientFn {
  const idle = new Map<string, Idle[]>();
  const idleMs = options.idleMs ?? 2_000;

  async function connect(url: URL): Promise<ByteSource> {
    // Idle sockets hold no pending read, so they keep no process alive; stale ones close here.
    const list = idle.get(url.origin) ?? [];
    const now = performance.now();
    for (let entry = list.pop(); entry; entry = list.pop()) {
      if (now - entry.since < idleMs) return entry.source;
      entry.source.close();
    }
    const https = url.protocol === "https:";
    const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
    const port = Number(url.port) || (https ? 443 : 80);
    const tcp = await Deno.connect({ hostname, port });
    tcp.setNoDelay(true);
    if (!https) return new ByteSource(tcp);
    const tls = await Deno.startTls(tcp, {
      hostname,
      caCerts: options.caCerts,
      alpnProtocols: ["http/1.1"],
    });
    return new ByteSource(tls);
  }

  function release(origin: string, source: ByteSource): void {
    const list = idle.get(origin) ?? [];
    idle.set(origin, list);
    list.push({ source, since: performance.now() });
  }

  return async function http1Client(req: UniversalClientRequest): Promise<UniversalClientResponse> {
    const url = new URL(req.url);
    req.signal?.throwIfAborted();
    const source = await connect(url);
    const onAbort = () => source.close();
    req.signal?.addEventListener("abort", onAbort, { once: true });
    const written = writeRequest(source, url, req).then(() => true, () => false);
    try {
      const head = await readHead(source);
      const reusable = head.keepAlive && (head.chunked || head.contentLength !== undefined);
      const body = head.chunked
        ? chunkedBody(source)
        : head.contentLength !== undefined
        ? lengthBody(source, head.contentLength)
        : lengthBody(source, Infinity);
      const pieces = (async function* () {
        let complete = false;
        try {
          yield* body;
          complete = true;
        } catch (error) {
          throw req.signal?.aborted ? req.signal.reason : error;
        } finally {
          req.signal?.removeEventListener("abort", onAbort);
          const sent = complete && await Promise.race([written, Promise.resolve(false)]);
          if (complete && sent && reusable && !source.closed) release(url.origin, source);
          else source.close();
        }
      })();
      // A chunked body can also be read into the caller's buffer (envelopes.ts: large messages).
      const wrapped = body instanceof ChunkedBody
        ? Object.assign(pieces, {
          readInto: (dest: Uint8Array) =>
            body.readInto(dest).catch((error) => {
              throw req.signal?.aborted ? req.signal.reason : error;
            }),
        })
        : pieces;
      return { status: head.status, header: head.header, body: wrapped, trailer: new Headers() };
    } catch (error) {
      req.signal?.removeEventListener("abort", onAbort);
      source.close();
      throw req.signal?.aborted ? req.signal.reason : error;
    }
  };
}

/** Writes the request head and streams the body in chunked encoding; closes the socket on failure. */
async function writeRequest(source: ByteSource, url: URL, req: UniversalClientRequest) {
  const lines = [`${req.method} ${url.pathname}${url.search} HTTP/1.1`, `host: ${url.host}`];
  req.header.forEach((value, name) => {
    if (name !== "host" && name !== "content-length") lines.push(`${name}: ${value}`);
  });
  if (!req.body) {
    await source.write(encoder.encode(lines.join("\r\n") + "\r\ncontent-length: 0\r\n\r\n"));
    return;
  }
  lines.push("transfer-encoding: chunked");
  let pending = encoder.encode(lines.join("\r\n") + "\r\n\r\n");
  const body = req.body[Symbol.asyncIterator]();
  try {
    // The head waits a few microtask turns for the first frame, which is nearly always ready
    // (one segment then). Not a timer: the first setTimeout loads Node's timers, ~3 ms.
    const first = body.next();
    let next = await settledSoon(first);
    if (next === undefined) {
      await source.write(pending);
      pending = new Uint8Array(0);
      next = await first;
    }
    for (; !next.done; next = await body.next()) {
      await writeChunk(source, pending, next.value);
      pending = new Uint8Array(0);
    }
    await source.write(concatBytes([pending, LAST_CHUNK]));
  } catch (error) {
    source.close();
    await body.return?.();
    throw error;
  }
}

async function writeChunk(source: ByteSource, prefix: Uint8Array, data: Uint8Array) {
  // An empty chunk would end the body: only the prefix (the head) goes out.
  if (data.length === 0) {
    if (prefix.length > 0) await source.write(prefix);
    return;
  }
  const header = encoder.encode(`${data.length.toString(16)}\r\n`);
  if (prefix.length + data.length < COALESCE_BYTES) {
    await source.write(concatBytes([prefix, header, data, CRLF]));
    return;
  }
  // Large frames are written in place rather than copied next to their header.
  await source.write(concatBytes([prefix, header]));
  await source.write(data);
  await source.write(CRLF);
}

/** The promise's value if it settles within a few microtask turns, else `undefined`. */
async function settledSoon<T>(promise: Promise<T>): Promise<T | undefined> {
  let settled = false;
  promise.then(() => settled = true, () => settled = true);
  // A frame passes through a handful of async generators (Connect's pipeline) before it is here.
  for (let turn = 0; turn < 64 && !settled; turn++) await null;
  return settled ? await promise : undefined;
}
