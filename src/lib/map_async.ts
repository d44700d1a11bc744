/** mapAsync: an async iterable's items passed through a function, one promise reaction per item instead of an async generator's steps. */

/** Returned by a map of {@linkcode mapAsync}: the item is dropped and the next one pulled. */
export const SKIP: unique symbol = Symbol("skip");

/**
 * Maps each item of `source` with `map` as it is pulled; an item mapped to {@linkcode SKIP}
 * is dropped. Unlike an `async function*` wrapper,
 * an item costs one `.then` on the source's own promise: on a keystroke's way through a
 * process every such wrapper was a few more microtask turns. `map` may throw: that `next()`
 * rejects. `return()` is passed on to the source (its `finally` blocks run).
 *
 * @example
 * ```ts
 * const encoded = mapAsync(frames, (frame) => encodeSessionInput(frame, 5));
 * for await (const bytes of encoded) write(bytes);
 * ```
 */
export function mapAsync<T, U>(
  source: AsyncIterable<T> | AsyncIterator<T>,
  map: (item: T) => U | typeof SKIP,
): AsyncIterableIterator<U> {
  const inner = Symbol.asyncIterator in source
    ? (source as AsyncIterable<T>)[Symbol.asyncIterator]()
    : source as AsyncIterator<T>;
  const step = (next: IteratorResult<T>): IteratorResult<U> | Promise<IteratorResult<U>> => {
    if (next.done) return { done: true, value: undefined };
    const value = map(next.value);
    return value === SKIP ? inner.next().then(step) : { done: false, value };
  };
  const mapped: AsyncIterableIterator<U> = {
    next: () => inner.next().then(step),
    return: async () => {
      await inner.return?.();
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]: () => mapped,
  };
  return mapped;
}
