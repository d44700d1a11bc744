/** ReplayBuffer: bytes sent and not yet acknowledged, by offset, within a stated size: a kept terminal's output on the agent, a resumable session's input on the client. */

/**
 * Output bytes numbered from 0 as the terminal wrote them. The buffer keeps those from
 * `acked` (what the client has credited, or said it has) to `end`, never more than
 * `capacity` of them: a writer waits for room, so a terminal whose client is gone (or slow)
 * stops being read, as a terminal whose reader stops does, and nothing is dropped. Sending
 * from any offset in between replays what a client that reconnects has not seen.
 *
 * @example
 * ```ts
 * const buffer = new ReplayBuffer(4 << 20);
 * await buffer.append(chunk);           // waits while 4 MiB are unacknowledged
 * const missed = buffer.from(offset);   // what follows `offset`, as stored chunks
 * buffer.ack(credit);                   // a credit frame: that much more was consumed
 * ```
 */
export class ReplayBuffer {
  #chunks: Uint8Array[] = [];
  /** What each chunk is (an exec's stdout or stderr), beside it in `#chunks`. */
  #tags: number[] = [];
  /** Offset of the first byte of `#chunks[0]`. */
  #start = 0;
  #end = 0;
  #roomWaiters: (() => void)[] = [];
  #closed = false;

  constructor(readonly capacity: number) {}

  /** Offset of the first byte still kept: everything before it was acknowledged. */
  get acked(): number {
    return this.#start;
  }

  /** Offset just past the last byte written. */
  get end(): number {
    return this.#end;
  }

  /** Bytes kept: written and not yet acknowledged. */
  get size(): number {
    return this.#end - this.#start;
  }

  /**
   * Adds `data` once the buffer holds less than its capacity (it may then exceed it by this
   * one chunk, which keeps chunks whole). Returns false, adding nothing, once closed. `tag`
   * says what the chunk is (see {@linkcode taggedFrom}).
   */
  async append(data: Uint8Array, tag = 0): Promise<boolean> {
    if (!(await this.room())) return false;
    this.#chunks.push(data);
    this.#tags.push(tag);
    this.#end += data.length;
    return true;
  }

  /** Waits until the buffer holds less than its capacity; false once closed. */
  async room(): Promise<boolean> {
    while (this.size >= this.capacity && !this.#closed) {
      await new Promise<void>((resolve) => this.#roomWaiters.push(resolve));
    }
    return !this.#closed;
  }

  /** The bytes from `offset` to the end, as stored (the first one cut); `offset` must be kept. */
  from(offset: number): Uint8Array[] {
    if (!this.holds(offset)) throw new RangeError(`offset ${offset} is not in the buffer`);
    // Searched from the end: a sender asks for what followed its last send, and a terminal's
    // output kept unacknowledged can be thousands of keystroke-sized chunks.
    const chunks = this.#chunks;
    let first = chunks.length;
    let at = this.#end;
    while (first > 0 && at > offset) at -= chunks[--first].length;
    const out: Uint8Array[] = [];
    for (let i = first; i < chunks.length; i++) {
      out.push(i === first && offset > at ? chunks[i].subarray(offset - at) : chunks[i]);
    }
    return out;
  }

  /** {@linkcode from}, each chunk with the tag it was appended with. */
  taggedFrom(offset: number): { data: Uint8Array; tag: number }[] {
    const chunks = this.from(offset);
    const skipped = this.#chunks.length - chunks.length;
    return chunks.map((data, i) => ({ data, tag: this.#tags[skipped + i] }));
  }

  /** Whether sending can start at `offset`: from the first kept byte to the end. */
  holds(offset: number): boolean {
    return Number.isSafeInteger(offset) && offset >= this.#start && offset <= this.#end;
  }

  /** Drops the bytes before `offset` (clamped to what was written); wakes a waiting writer. */
  ackTo(offset: number): void {
    const target = Math.min(offset, this.#end);
    while (this.#start < target) {
      const first = this.#chunks[0];
      const drop = target - this.#start;
      if (drop >= first.length) {
        this.#chunks.shift();
        this.#tags.shift();
        this.#start += first.length;
      } else {
        this.#chunks[0] = first.subarray(drop);
        this.#start += drop;
      }
    }
    if (this.size < this.capacity) this.#wake();
  }

  /** Releases a waiting writer for good; later appends add nothing. */
  close(): void {
    this.#closed = true;
    this.#wake();
  }

  #wake(): void {
    const waiters = this.#roomWaiters;
    this.#roomWaiters = [];
    for (const wake of waiters) wake();
  }
}
