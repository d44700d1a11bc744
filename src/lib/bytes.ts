/** concatBytes: joins byte chunks into one array (what @std/bytes' concat does; JSR is not reachable here). */

/**
 * Joins `chunks` into one new array (always a copy, backed by its own ArrayBuffer).
 *
 * @example
 * ```ts
 * const body = concatBytes([header, payload]);
 * ```
 */
export function concatBytes(chunks: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}
