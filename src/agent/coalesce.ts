/** creditedFrames: a command's output in larger frames while it is producing faster than it is sent, within its credit. */
import type { CreditGate } from "../lib/credit.ts";

/**
 * Frames grow up to this many bytes. Measured here, 1 GB of `head -c` through
 * exec: 64 KiB 4.4 s, 256 KiB 3.8 s, 1 MiB 3.1 s, 2 MiB 3.1 s (per-frame work in
 * Connect's pipelines dominates); 1 MiB keeps four frames in a 4 MiB window.
 */
export const COALESCE_LIMIT = 1024 * 1024;
/** A read at least this big means the pipe was backed up: more is likely waiting. */
export const BUSY_READ = 16 * 1024;

const TICK = Symbol("tick");

/**
 * Yields the stream's chunks with their credit taken from `gate`, joining
 * reads that are already waiting into one frame of up to `limit` bytes. A pipe
 * read returns at most 64 KiB (often 32 KiB), and every frame costs a message,
 * an envelope and a few stream steps in agent, relay and client alike: 1 GB as
 * ~30,000 frames kept all three busy. A small read (interactive output) is
 * passed on at once; a big one waits one timer tick for what follows, which a
 * fast producer has already written. Only the first read of a frame may
 * overshoot the window, as before; what is joined to it must fit the credit
 * left (the cluster's bridges hang up on a peer that overshoots by more).
 * Ends when the stream does or the gate closes.
 *
 * @example
 * ```ts
 * for await (const frame of creditedFrames(child.stdout, gate)) send(frame);
 * ```
 */
export async function* creditedFrames(
  stream: ReadableStream<Uint8Array>,
  gate: CreditGate,
  limit = COALESCE_LIMIT,
): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader();
  let pending = reader.read();
  let carried: Uint8Array | undefined;
  let finished = false;
  try {
    for (;;) {
      let first = carried;
      carried = undefined;
      if (!first) {
        const read = await pending;
        if (read.done) {
          finished = true;
          return;
        }
        pending = reader.read();
        first = read.value;
      }
      if (!(await gate.take(first.length))) return;
      if (first.length < BUSY_READ) {
        yield first;
        continue;
      }
      const parts = [first];
      let size = first.length;
      while (size < limit) {
        const tick = new Promise<typeof TICK>((resolve) => setTimeout(() => resolve(TICK), 0));
        const next = await Promise.race([pending, tick]);
        if (next === TICK || next.done) break;
        pending = reader.read();
        if (size + next.value.length > limit || !gate.tryTake(next.value.length)) {
          carried = next.value;
          break;
        }
        parts.push(next.value);
        size += next.value.length;
      }
      yield parts.length === 1 ? parts[0] : joinChunks(parts, size);
    }
  } finally {
    // Stopped early (the gate closed, the session ended): the pipe is not read further.
    if (!finished) reader.cancel().catch(() => {});
  }
}

/** `parts` in one array of `size` bytes (their total length). */
export function joinChunks(parts: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
