/** halfOpenReadable: a TCP connection's incoming bytes as a stream that leaves the connection open when they end. */

/** Bytes asked for per read: a socket read rarely returns more. */
const READ_BYTES = 64 * 1024;

/**
 * The connection's incoming bytes until the peer ends them (or half-closes). Unlike
 * `conn.readable`, which closes the whole connection at end of stream (measured with
 * Deno 2.9.6: a write after it fails with "Bad resource ID"), this leaves the connection
 * open, so bytes can still be written after the peer half-closed. Nothing is read ahead:
 * a read happens only when the consumer asks (backpressure reaches the socket).
 *
 * @example
 * ```ts
 * for await (const chunk of halfOpenReadable(conn)) handle(chunk);
 * await conn.write(reply); // still open
 * ```
 */
export function halfOpenReadable(conn: Deno.Conn): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const buffer = new Uint8Array(READ_BYTES);
      const n = await conn.read(buffer);
      if (n === null) controller.close();
      else controller.enqueue(buffer.subarray(0, n));
    },
  }, { highWaterMark: 0 });
}
