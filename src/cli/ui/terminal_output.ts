/** BareLineFeeds: remote terminal output made safe for a local terminal whose raw mode still turns "\n" into "\r\n". */

const CR = 0x0d;
const LF = 0x0a;
/** Vertical tab: terminals move down a line on it exactly as on a line feed, and output processing leaves it alone. */
const VT = 0x0b;

/**
 * Deno's raw mode (like libuv's) keeps the terminal's output processing on
 * (`opost onlcr`), so every "\n" written to the local terminal also returns
 * the cursor to column 0. A remote full-screen program (top, an editor,
 * anything on curses) that turned that off on its own pty relies on a bare
 * "\n" moving straight down, and would be drawn askew. A vertical tab does
 * just that and is not translated, so bare line feeds become vertical tabs.
 * "\r\n" is left alone: the extra carriage return it gets is harmless. The
 * state carries over chunks, since a "\r" can end one and its "\n" start
 * the next.
 *
 * @example
 * ```ts
 * const feeds = new BareLineFeeds();
 * feeds.transform(new TextEncoder().encode("a\nb\r\n")); // "a\vb\r\n"
 * ```
 */
export class BareLineFeeds {
  #afterCr = false;

  /** Returns `chunk`, or a copy with its bare line feeds replaced; the input is never changed. */
  transform(chunk: Uint8Array): Uint8Array {
    if (chunk.length === 0) return chunk;
    let out: Uint8Array | undefined;
    let at = chunk.indexOf(LF);
    while (at >= 0) {
      const afterCr = at === 0 ? this.#afterCr : chunk[at - 1] === CR;
      if (!afterCr) {
        out ??= chunk.slice();
        out[at] = VT;
      }
      at = chunk.indexOf(LF, at + 1);
    }
    this.#afterCr = chunk[chunk.length - 1] === CR;
    return out ?? chunk;
  }
}
