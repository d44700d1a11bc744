/** AsyncQueue: a push/pull channel between producers and one `for await` consumer. */

/**
 * An unbounded-by-type queue whose producers are expected to respect flow
 * control; `limit` turns a misbehaving producer into an error instead of
 * unbounded memory.
 *
 * @example
 * ```ts
 * const q = new AsyncQueue<number>();
 * q.push(1);
 * q.close();
 * for await (const n of q) console.log(n);
 * ```
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  #items: T[] = [];
  #waiter?: (result: IteratorResult<T>) => void;
  #failer?: (error: unknown) => void;
  #closed = false;
  #error: unknown = undefined;
  #limit: number;

  constructor(limit = Infinity) {
    this.#limit = limit;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get size(): number {
    return this.#items.length;
  }

  /** Adds an item; returns false when the queue is already closed. */
  push(item: T): boolean {
    if (this.#closed) return false;
    if (this.#waiter) {
      const waiter = this.#waiter;
      this.#waiter = this.#failer = undefined;
      waiter({ value: item, done: false });
      return true;
    }
    if (this.#items.length >= this.#limit) {
      this.fail(new Error(`queue overflow: more than ${this.#limit} items pending`));
      return false;
    }
    this.#items.push(item);
    return true;
  }

  /** Ends the queue after the items already in it. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#waiter) {
      const waiter = this.#waiter;
      this.#waiter = this.#failer = undefined;
      waiter({ value: undefined, done: true });
    }
  }

  /** Ends the queue now; the consumer's next read throws `error`. */
  fail(error: unknown): void {
    if (this.#closed && this.#error !== undefined) return;
    this.#error = error;
    this.#items.length = 0;
    this.#closed = true;
    if (this.#failer) {
      const failer = this.#failer;
      this.#waiter = this.#failer = undefined;
      failer(error);
    }
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#items.length > 0) {
      return Promise.resolve({ value: this.#items.shift() as T, done: false });
    }
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (this.#closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.#waiter = resolve;
      this.#failer = reject;
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => this.next(),
      return: () => {
        this.close();
        this.#items.length = 0;
        return Promise.resolve({ value: undefined, done: true });
      },
      // Consumers such as fetch body streams end iteration through throw() on errors.
      throw: (error?: unknown) => {
        this.fail(error ?? new Error("queue consumer failed"));
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
