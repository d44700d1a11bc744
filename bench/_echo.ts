/** Keystroke echo latency of any interactive shell, reached through a byte writer and an output stream. */

/** Where keystrokes go and where the terminal's output comes back. */
export interface EchoTarget {
  /** Sends bytes as if typed. */
  write(bytes: Uint8Array): Promise<void>;
  /** The terminal's output; read by {@linkcode measureEcho} until it returns. */
  output: ReadableStream<Uint8Array>;
}

/** Options of {@linkcode measureEcho}. */
export interface EchoOptions {
  /** Timed keystrokes; default 300. */
  keystrokes?: number;
  /** Keystrokes per shell line before Enter; default 50. */
  lineLength?: number;
  /** Give up when one echo (or a sync marker) takes longer; default 10 s. */
  timeoutMs?: number;
  /** Output must be quiet this long before a line starts (prompt fully drawn); default 100 ms. */
  quietMs?: number;
}

const LETTERS = "abcdefghijklmnopqrstuvwxyz";
const encoder = new TextEncoder();

/**
 * Types one printable byte at a time into a POSIX shell and measures, per
 * keystroke, the time from the write until that byte comes back echoed.
 * Returns the samples in milliseconds.
 *
 * Each line starts with `#` so that Enter runs nothing; after each line an
 * `echo SY""NC_n` proves the shell is back at its prompt (the typed line shows
 * `SY""NC_n`, only the command's output shows `SYNC_n`) and the output must
 * then go quiet, so no prompt byte is mistaken for an echo.
 *
 * @example
 * ```ts
 * const child = new Deno.Command("ssh", { args: ["-tt", "host"], stdin: "piped", stdout: "piped" }).spawn();
 * const writer = child.stdin.getWriter();
 * const samples = await measureEcho({ write: (b) => writer.write(b), output: child.stdout });
 * ```
 */
export async function measureEcho(
  target: EchoTarget,
  options: EchoOptions = {},
): Promise<number[]> {
  const keystrokes = options.keystrokes ?? 300;
  const lineLength = options.lineLength ?? 50;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const quietMs = options.quietMs ?? 100;
  const watcher = new OutputWatcher(target.output);
  const samples: number[] = [];
  let sync = 0;
  const resync = async (prefix: string) => {
    const marker = `SYNC_${++sync}`;
    const from = watcher.length;
    await target.write(encoder.encode(`${prefix}echo SY""NC_${sync}\n`));
    await watcher.waitFor(
      (text) => text.indexOf(marker, from),
      timeoutMs,
      `sync marker "${marker}"`,
    );
    await watcher.waitQuiet(quietMs, timeoutMs);
  };
  try {
    await resync("");
    while (samples.length < keystrokes) {
      const from = watcher.length;
      await target.write(encoder.encode("#"));
      await watcher.waitFor(
        (text) => text.indexOf("#", from),
        timeoutMs,
        `echo of "#"`,
      );
      const inLine = Math.min(lineLength, keystrokes - samples.length);
      for (let i = 0; i < inLine; i++) {
        const ch = LETTERS[samples.length % LETTERS.length];
        const mark = watcher.length;
        const sent = performance.now();
        await target.write(encoder.encode(ch));
        const seen = await watcher.waitFor(
          (text) => text.indexOf(ch, mark),
          timeoutMs,
          `echo of "${ch}"`,
        );
        samples.push(seen - sent);
      }
      await resync("\n");
    }
  } finally {
    watcher.stop();
  }
  return samples;
}

/** Reads a stream in the background, keeping its text and when each chunk arrived. */
class OutputWatcher {
  #text = "";
  /** End offset in #text and arrival time of each chunk. */
  #chunks: { end: number; at: number }[] = [];
  #lastChunkAt = performance.now();
  #wake: (() => void) | undefined;
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #ended: Error | undefined;
  // latin1: one char per byte, so offsets are byte counts and no chunk split breaks decoding.
  #decoder = new TextDecoder("latin1");

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
    this.#pump();
  }

  get length(): number {
    return this.#text.length;
  }

  async #pump() {
    try {
      while (true) {
        const { value, done } = await this.#reader.read();
        if (done) break;
        // Stamped here, not when a waiter wakes, so promise scheduling is not counted.
        this.#lastChunkAt = performance.now();
        this.#text += this.#decoder.decode(value);
        this.#chunks.push({ end: this.#text.length, at: this.#lastChunkAt });
        this.#wake?.();
      }
      this.#ended = new Error("Terminal output ended");
    } catch (err) {
      this.#ended = err instanceof Error ? err : new Error(String(err));
    }
    this.#wake?.();
  }

  /**
   * Waits until `find` returns an offset (not -1) into all text so far and
   * resolves with the arrival time of the chunk holding that offset.
   */
  async waitFor(
    find: (text: string) => number,
    timeoutMs: number,
    what: string,
  ): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    let at: number;
    while ((at = find(this.#text)) < 0) {
      if (this.#ended) {
        throw new Error(`Waiting for ${what}: ${this.#ended.message}`);
      }
      const left = deadline - performance.now();
      if (left <= 0) {
        throw new Error(
          `No ${what} within ${timeoutMs} ms; last output: ${
            JSON.stringify(this.#text.slice(-80))
          }`,
        );
      }
      await this.#next(left);
    }
    return this.#chunks.find((c) => c.end > at)!.at;
  }

  /** Resolves once nothing has arrived for `quietMs`. */
  async waitQuiet(quietMs: number, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() - this.#lastChunkAt < quietMs) {
      if (performance.now() > deadline) {
        throw new Error(`Output did not go quiet within ${timeoutMs} ms`);
      }
      await this.#next(quietMs - (performance.now() - this.#lastChunkAt));
    }
  }

  #next(maxMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.#wake === done) this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, Math.max(1, maxMs));
      this.#wake = done;
    });
  }

  /** Stops reading; the stream stays open for its owner. */
  stop() {
    try {
      this.#reader.releaseLock();
    } catch { /* a read was pending: released anyway in current streams */ }
  }
}

/**
 * Starts a command whose stdin/stdout are a terminal session (`ssh -tt`,
 * `script`, `cmdop connect`), measures its echo, then types `exit` and waits
 * for it to end (killing it after 5 s).
 *
 * @example
 * ```ts
 * const samples = await measureEchoOfCommand("script", ["-qfec", "/bin/sh", "/dev/null"]);
 * ```
 */
export async function measureEchoOfCommand(
  cmd: string,
  args: string[],
  options: EchoOptions & { env?: Record<string, string> } = {},
): Promise<number[]> {
  const child = new Deno.Command(cmd, {
    args,
    env: options.env,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const writer = child.stdin.getWriter();
  try {
    return await measureEcho({
      write: (b) => writer.write(b),
      output: child.stdout,
    }, options);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(`Echo over "${cmd}" failed: ${message}`, { cause: err });
  } finally {
    await writer.write(encoder.encode("exit\n")).catch(() => {});
    await writer.close().catch(() => {});
    await child.stdout.cancel().catch(() => {});
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
    }, 5000);
    await child.status;
    clearTimeout(timer);
    const text = (await stderr).trim();
    if (text) console.error(`${cmd}: ${text}`);
  }
}
