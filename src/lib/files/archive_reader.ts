/** readArchive: a streaming parser of the cp archive that never holds more than one input frame and one header. */
import {
  ArchiveError,
  type ArchiveHeader,
  checkHeader,
  DIGEST_BYTES,
  MAX_CHUNK_BYTES,
  MAX_HEADER_BYTES,
} from "./archive_format.ts";

/** What the parser yields, in stream order. */
export type ArchiveEvent =
  | { type: "header"; header: Exclude<ArchiveHeader, { type: "file" }> }
  | { type: "file"; header: Extract<ArchiveHeader, { type: "file" }> }
  /** Content of the current file; a view into an input frame, valid until the next pull. */
  | { type: "data"; bytes: Uint8Array }
  /** The sender's sha256 of the file that just ended. */
  | { type: "file-end"; sha256: Uint8Array };

/**
 * Parses the archive in `source`, yielding headers, content slices and digests as they
 * arrive. It pulls the next input only when the consumer pulls, so backpressure passes
 * through; content is handed out as views of the input (no copy). Anything malformed — a
 * length over its limit, bad JSON, a bad path, bytes after `end`, a stream that stops early —
 * is an {@linkcode ArchiveError}, raised before more than a header's worth is buffered.
 *
 * @example
 * ```ts
 * for await (const event of readArchive(frames)) if (event.type === "data") await write(event.bytes);
 * ```
 */
export async function* readArchive(
  source: AsyncIterable<Uint8Array>,
): AsyncGenerator<ArchiveEvent> {
  const input = new ByteInput(source[Symbol.asyncIterator]());
  try {
    for (;;) {
      if (await input.atEnd()) throw new ArchiveError("the archive stops before its end");
      const length = await input.uint32("a header length");
      if (length === 0 || length > MAX_HEADER_BYTES) {
        throw new ArchiveError(
          `an archive header of ${length} bytes is out of range (1 to ${MAX_HEADER_BYTES})`,
        );
      }
      const text = new TextDecoder().decode(await input.exactly(length, "a header"));
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new ArchiveError("an archive header is not valid JSON");
      }
      const header = checkHeader(parsed);
      if (header.type !== "file") {
        yield { type: "header", header };
        if (header.type === "end") {
          if (!(await input.atEnd())) throw new ArchiveError("bytes follow the archive's end");
          return;
        }
        continue;
      }
      yield { type: "file", header };
      for (;;) {
        let left = await input.uint32("a chunk length");
        if (left > MAX_CHUNK_BYTES) {
          throw new ArchiveError(
            `a content chunk of ${left} bytes is over the limit of ${MAX_CHUNK_BYTES}`,
          );
        }
        if (left === 0) break;
        while (left > 0) {
          const bytes = await input.some(left, "file content");
          left -= bytes.length;
          yield { type: "data", bytes };
        }
      }
      yield { type: "file-end", sha256: await input.exactly(DIGEST_BYTES, "a digest") };
    }
  } finally {
    await input.close();
  }
}

/** Reads exact amounts from a stream of frames, keeping only the unread rest of one frame. */
class ByteInput {
  #frames: AsyncIterator<Uint8Array>;
  #rest: Uint8Array = new Uint8Array(0);
  #done = false;

  constructor(frames: AsyncIterator<Uint8Array>) {
    this.#frames = frames;
  }

  async #fill(what: string): Promise<void> {
    while (this.#rest.length === 0) {
      if (this.#done) throw new ArchiveError(`the archive stops in the middle of ${what}`);
      const next = await this.#frames.next();
      if (next.done) this.#done = true;
      else this.#rest = next.value;
    }
  }

  /** Up to `max` bytes, at least one: a view, no copy. */
  async some(max: number, what: string): Promise<Uint8Array> {
    await this.#fill(what);
    const out = this.#rest.subarray(0, max);
    this.#rest = this.#rest.subarray(out.length);
    return out;
  }

  /** Exactly `n` bytes (n is bounded by the caller: a header at most). */
  async exactly(n: number, what: string): Promise<Uint8Array> {
    await this.#fill(what);
    if (this.#rest.length >= n) return this.some(n, what);
    const out = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const part = await this.some(n - got, what);
      out.set(part, got);
      got += part.length;
    }
    return out;
  }

  async uint32(what: string): Promise<number> {
    const bytes = await this.exactly(4, what);
    return new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0);
  }

  async atEnd(): Promise<boolean> {
    while (this.#rest.length === 0 && !this.#done) {
      const next = await this.#frames.next();
      if (next.done) this.#done = true;
      else this.#rest = next.value;
    }
    return this.#rest.length === 0;
  }

  async close(): Promise<void> {
    if (!this.#done) await this.#frames.return?.();
  }
}
