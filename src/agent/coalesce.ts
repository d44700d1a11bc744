/** coalescedChunks: a command's output in larger frames while it is producing faster than it is sent. */

/**
 * Frames grow up to this many bytes. Measured here, 1 GB of `head -c` through
 * exec: 64 KiB 4.4 s, 256 KiB 3.8 s, 1 MiB 3.1 s, 2 MiB 3.1 s (per-frame work in
 * Connect's pipelines dominates); 1 MiB keeps four frames in a 4 MiB window.
 */
export const COALESCE_LIMIT = 1024 * 1024;
/** A read at least this big means the pipe was backed up: more is likely waiting. */
const BUSY_READ = 16 * 1024;

const TICK = Symbol("tick");

/**
 * Yields the stream's chunks, joining reads that are already waiting into one
 * frame of up to `limit` bytes. A pipe read returns at most 64 KiB (often
 * 32 KiB), and every frame costs a protobuf message, an envelope and a few
 * stream steps in agent, relay and client alike: 1 GB as ~30,000 frames kept
 * all three busy. A small read (interactive output) is passed on at once; a
 * big one waits one timer tick for what follows, which a fast producer has
 * already written.
 *
 * @example
 * ```ts
 * for await (const frame of coalescedChunks(child.stdout)) send(frame);
 * ```
 */
export async function* coalescedChunks(
  stream: ReadableStream<Uint8Array>,
  limit = COALESCE_LIMIT,
): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader();
  let pending = reader.read();
  let finished = false;
  try {
    for (;;) {
      const first = await pending;
      if (first.done) {
        finished = true;
        return;
      }
      pending = reader.read();
      if (first.value.length < BUSY_READ) {
        yield first.value;
        continue;
      }
      const parts = [first.value];
      let size = first.value.length;
      while (size < limit) {
        const tick = new Promise<typeof TICK>((resolve) => setTimeout(() => resolve(TICK), 0));
        const next = await Promise.race([pending, tick]);
        if (next === TICK) break;
        if (next.done) break;
        pending = reader.read();
        parts.push(next.value);
        size += next.value.length;
      }
      yield parts.length === 1 ? parts[0] : join(parts, size);
    }
  } finally {
    // Stopped early (no more credit, the session ended): the pipe is not read further.
    if (!finished) reader.cancel().catch(() => {});
  }
}

function join(parts: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
