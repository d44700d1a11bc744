/** CastRecorder: one session's asciicast v2 recording, written in the background through a bounded queue that never holds the session back. */

/** A shared allowance of queued bytes (every recording of the relay together). */
export interface QueueBudget {
  /**
   * Takes `n` bytes of the allowance; false (taking nothing) when that would pass it. `force`
   * takes them however much is used (a few small events that must not be lost).
   */
  take(n: number, force?: boolean): boolean;
  give(n: number): void;
}

/**
 * A budget of `limit` bytes.
 *
 * @example
 * ```ts
 * const budget = queueBudget(64 * 1024 * 1024);
 * ```
 */
export function queueBudget(limit: number): QueueBudget & { readonly used: number } {
  let used = 0;
  return {
    get used() {
      return used;
    },
    take(n, force) {
      if (!force && used + n > limit) return false;
      used += n;
      return true;
    },
    give(n) {
      used -= n;
    },
  };
}

/** Options of {@linkcode CastRecorder}. */
export interface CastRecorderOptions {
  /** The asciicast header (the first line): version, width, height, timestamp, … */
  header: Record<string, unknown>;
  /** Output bytes recorded at most; past it a marker, and output is only counted. */
  capBytes: number;
  /** Bytes this recording may have waiting for the writer; past it output is left out. */
  queueBytes: number;
  /** What every recording's queue takes from together. */
  budget: QueueBudget;
  /** Appends to the recording; one call at a time. */
  write(bytes: Uint8Array): Promise<void>;
  /** Called when the queue is empty: nothing to write for now. */
  idle(): Promise<void>;
  /** Waits before a write of less than {@linkcode BATCH_BYTES}, to write fewer, larger pieces. */
  coalesceMs?: number;
  /** A monotonic clock in ms (`performance.now`): event times. */
  clock?: () => number;
  /** Told once when writing fails; the recording then stops and the session goes on. */
  failed(error: unknown): void;
}

/** How a recording ended. */
export interface CastResult {
  /** Bytes of the asciicast file written. */
  bytes: number;
  /** Output the session produced, recorded or not. */
  outputBytes: number;
  truncated: boolean;
  gapBytes: number;
  exitCode: number | null;
}

/** An event waiting for the writer: output bytes are encoded only when written. */
interface Pending {
  seconds: number;
  /** `h` is the header line; the others are asciicast event codes. */
  code: "h" | "o" | "e" | "r" | "m" | "x";
  data: Uint8Array | string;
  /** What it counts against the queue's bounds. */
  cost: number;
}

/** Bytes of events encoded and written at once. */
const BATCH_BYTES = 64 * 1024;
/** What a marker, resize or exit event counts against the queue. */
const SMALL_EVENT_COST = 128;

/**
 * Records a session as asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/): the
 * header, then `[seconds, code, data]` lines: `"o"` output (stdout), `"e"` stderr (exec), `"r"`
 * resizes (`"COLSxROWS"`), `"m"` markers where cmdop left something out, `"x"` the exit status
 * (asciicast v3's code; players of v2 skip codes they do not know). Input is never recorded.
 *
 * The session calls {@linkcode output}, {@linkcode resize} and {@linkcode exit}, which only
 * queue (no encoding, no I/O, no waiting); a writer task encodes and writes behind it. When it
 * falls behind by more than the queue's bound (this recording's or the relay's), output is
 * left out rather than the session held back, and a marker in the file says how many bytes.
 *
 * @example
 * ```ts
 * const recorder = new CastRecorder({ header, capBytes, queueBytes, budget, write, idle, failed });
 * recorder.output(1, data);
 * const result = await recorder.end();
 * ```
 */
export class CastRecorder {
  #options: CastRecorderOptions;
  #clock: () => number;
  #startedAt: number;
  #queue: Pending[] = [];
  #queued = 0;
  #recorded = 0;
  #outputBytes = 0;
  #truncated = false;
  #gapBytes = 0;
  /** Left out since the last marker. */
  #gapPending = 0;
  #exitCode: number | null = null;
  #bytes = 0;
  #stopped = false;
  #ending = false;
  #writer: Promise<void> | undefined;
  #decoders = { o: new TextDecoder(), e: new TextDecoder() };
  #encoder = new TextEncoder();

  constructor(options: CastRecorderOptions) {
    this.#options = options;
    this.#clock = options.clock ?? (() => performance.now());
    this.#startedAt = this.#clock();
    const header = JSON.stringify(options.header) + "\n";
    // The header is written whatever the bounds: a recording always parses.
    this.#queue.push({ seconds: 0, code: "h", data: header, cost: 0 });
    this.#kick();
  }

  /** Output of the session: `stream` 2 is stderr (recorded as `"e"`), anything else stdout. */
  output(stream: number, data: Uint8Array): void {
    if (data.length === 0) return;
    this.#outputBytes += data.length;
    if (this.#truncated || this.#stopped) return;
    let bytes = data;
    const room = this.#options.capBytes - this.#recorded;
    if (bytes.length > room) bytes = bytes.subarray(0, Math.max(0, room));
    if (bytes.length > 0 && this.#enqueue(stream === 2 ? "e" : "o", bytes, bytes.length)) {
      this.#recorded += bytes.length;
    }
    if (this.#recorded >= this.#options.capBytes) {
      this.#truncated = true;
      this.#marker(
        `cmdop: the recording stops here: it reached its cap of ${this.#options.capBytes} bytes of output`,
        true,
      );
    }
  }

  /** The terminal's new size. */
  resize(cols: number, rows: number): void {
    if (this.#stopped) return;
    this.#enqueue("r", `${cols}x${rows}`, SMALL_EVENT_COST);
  }

  /** The session's exit status. */
  exit(code: number): void {
    this.#exitCode = code;
    if (this.#stopped) return;
    this.#enqueue("x", String(code), SMALL_EVENT_COST, true);
  }

  /** Writes what is queued and resolves with the result; later calls resolve the same. */
  async end(): Promise<CastResult> {
    if (!this.#ending) {
      this.#ending = true;
      this.#notePendingGap(true);
      this.#kick();
    }
    while (this.#writer) await this.#writer;
    return {
      bytes: this.#bytes,
      outputBytes: this.#outputBytes,
      truncated: this.#truncated,
      gapBytes: this.#gapBytes,
      exitCode: this.#exitCode,
    };
  }

  #seconds(): number {
    return Math.max(0, (this.#clock() - this.#startedAt) / 1000);
  }

  #marker(text: string, always = false): void {
    this.#enqueue("m", text, SMALL_EVENT_COST, always);
  }

  /** Queues an event within the bounds (`always`: a small one that must not be lost); false when left out. */
  #enqueue(
    code: Pending["code"],
    data: Uint8Array | string,
    cost: number,
    always = false,
  ): boolean {
    if (this.#ending) return false;
    const fits = always ||
      (this.#queued + cost <= this.#options.queueBytes && this.#options.budget.take(cost));
    if (!fits) {
      if (typeof data !== "string") {
        this.#gapBytes += data.length;
        this.#gapPending += data.length;
      }
      return false;
    }
    if (always) this.#options.budget.take(cost, true);
    this.#notePendingGap(false);
    this.#queue.push({ seconds: this.#seconds(), code, data, cost });
    this.#queued += cost;
    this.#kick();
    return true;
  }

  /** Says, once the writer has room again (or at the end), how much was left out since the last marker. */
  #notePendingGap(atEnd: boolean): void {
    if (this.#gapPending === 0) return;
    const left = this.#gapPending;
    this.#gapPending = 0;
    const text = `cmdop: ${left} bytes of output are missing here: ` +
      `the recording fell behind the session${atEnd ? " and it ended" : ""}`;
    this.#options.budget.take(SMALL_EVENT_COST, true);
    this.#queue.push({ seconds: this.#seconds(), code: "m", data: text, cost: SMALL_EVENT_COST });
    this.#queued += SMALL_EVENT_COST;
  }

  #kick(): void {
    if (this.#writer || this.#stopped || this.#queue.length === 0) return;
    this.#writer = this.#drain().finally(() => {
      this.#writer = undefined;
      // Events queued while the writer was letting go of the file.
      if (this.#queue.length > 0) this.#kick();
    });
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0 && !this.#stopped) {
        if (this.#options.coalesceMs && !this.#ending && this.#queued < BATCH_BYTES) {
          await new Promise((resolve) => setTimeout(resolve, this.#options.coalesceMs));
        }
        const batch = this.#takeBatch();
        const bytes = this.#encoder.encode(batch.map((e) => this.#line(e)).join(""));
        try {
          await this.#options.write(bytes);
          this.#bytes += bytes.length;
        } finally {
          const cost = batch.reduce((n, e) => n + e.cost, 0);
          this.#queued -= cost;
          this.#options.budget.give(cost);
        }
      }
      await this.#options.idle();
    } catch (error) {
      this.#stop(error);
    }
  }

  #takeBatch(): Pending[] {
    let size = 0;
    let count = 0;
    while (count < this.#queue.length && (count === 0 || size < BATCH_BYTES)) {
      size += this.#queue[count].cost;
      count++;
    }
    return this.#queue.splice(0, count);
  }

  /** One line of the file; output is decoded as UTF-8 here, a character split between frames kept whole. */
  #line(e: Pending): string {
    if (e.code === "h") return e.data as string;
    let data: string;
    if (typeof e.data === "string") data = e.data;
    else data = this.#decoders[e.code as "o" | "e"].decode(e.data, { stream: true });
    if (data === "") return "";
    return `[${e.seconds.toFixed(6)}, "${e.code}", ${JSON.stringify(data)}]\n`;
  }

  #stop(error: unknown): void {
    if (this.#stopped) return;
    this.#stopped = true;
    const cost = this.#queue.reduce((n, e) => n + e.cost, 0);
    this.#queue = [];
    this.#queued -= cost;
    this.#options.budget.give(cost);
    this.#options.failed(error);
  }
}
