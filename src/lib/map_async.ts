/** mapAsync: an async iterable's items passed through a function, one promise reaction per item instead of an async generator's steps. */

/**
 * Maps each item of `source` with `map` as it is pulled. Unlike an `async function*` wrapper,
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
  map: (item: T) => U,
): AsyncIterableIterator<U> {
  const inner = Symbol.asyncIterator in source
    ? (source as AsyncIterable<T>)[Symbol.asyncIterator]()
    : source as AsyncIterator<T>;
  const step = (next: IteratorResult<T>): IteratorResult<U> =>
    next.done ? { done: true, value: undefined } : { done: false, value: map(next.value) };
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
