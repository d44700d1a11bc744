/** serialised: an output whose writes go out one after another, each whole, in the order they were asked. */
import type { OutputStream } from "./context.ts";

/** An output stream written from several tasks at once without interleaving their bytes. */
export interface Serialised {
  write(data: Uint8Array | string): Promise<void>;
  /** Resolves once every write asked for is done. */
  done(): Promise<void>;
}

/**
 * Wraps `stream` so that each write starts once the one before it has finished.
 *
 * @example
 * ```ts
 * const out = serialised(ctx.stdout);
 * await Promise.all([out.write("web-1 | up\n"), out.write("web-2 | up\n")]);
 * ```
 */
export function serialised(stream: OutputStream): Serialised {
  // A write may be cut short by the pipe and finished in a second call: one at a time keeps
  // another task's bytes from landing in between.
  let tail: Promise<void> = Promise.resolve();
  return {
    write(data) {
      const next = tail.then(() => stream.write(data));
      tail = next.catch(() => {});
      return next;
    },
    done: () => tail,
  };
}
