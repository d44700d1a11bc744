/** pipeLike: a byte stream that reads like a pipe, for unit tests of output framing. */

/** One write into the pipe: its bytes, and how long the writer pauses before it. */
export interface PipeWrite {
  bytes: Uint8Array;
  pauseMs?: number;
}

/**
 * A byte stream (BYOB readable) that hands out `writes` as a pipe would: a read returns what
 * one write put there, up to the reader's buffer; a write with `pauseMs` comes only that
 * long after it was asked for, so reads before it are not joined to what follows. `onEnd` is
 * called when the end of the stream is read.
 *
 * @example
 * ```ts
 * const stream = pipeLike([{ bytes: new Uint8Array(65536) }, { bytes: tail, pauseMs: 50 }]);
 * ```
 */
export function pipeLike(writes: PipeWrite[], onEnd?: () => void): ReadableStream<Uint8Array> {
  let index = 0;
  let at = 0;
  let paused = false;
  return new ReadableStream({
    type: "bytes",
    async pull(controller) {
      const request = controller.byobRequest!;
      const view = request.view!;
      const write = writes[index];
      if (!write) {
        onEnd?.();
        controller.close();
        request.respond(0);
        return;
      }
      if (write.pauseMs && at === 0 && !paused) {
        paused = true;
        await new Promise((resolve) => setTimeout(resolve, write.pauseMs));
      }
      paused = false;
      const n = Math.min(view.byteLength, write.bytes.length - at);
      new Uint8Array(view.buffer, view.byteOffset, n).set(write.bytes.subarray(at, at + n));
      at += n;
      if (at === write.bytes.length) {
        index++;
        at = 0;
      }
      request.respond(n);
    },
  });
}

/** `count` writes of `size` bytes, each filled with its index. */
export function numberedWrites(count: number, size: number, pauseMs = 0): PipeWrite[] {
  return Array.from({ length: count }, (_, i) => ({
    bytes: new Uint8Array(size).fill(i + 1),
    pauseMs,
  }));
}

/** The bytes of `writes`, end to end. */
export function written(writes: PipeWrite[]): Uint8Array {
  const out = new Uint8Array(writes.reduce((n, w) => n + w.bytes.length, 0));
  let at = 0;
  for (const { bytes } of writes) {
    out.set(bytes, at);
    at += bytes.length;
  }
  return out;
}
