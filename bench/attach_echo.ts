/** Interactive attach measured: keystroke echo and bulk output of `cmdop connect HOST` through the relay, next to a direct local pty. */

import { openPty, type Pty } from "../src/agent/pty.ts";
import { type EchoTarget, measureEcho } from "./_echo.ts";
import { type Measurement, summarizeLatency, summarizeRate } from "./_stats.ts";

/** How to call the CLI against a running relay and agent (a `CmdopStack` of `cmdop.ts` fits). */
export interface AttachTarget {
  /** Command line that runs the CLI, e.g. `[deno, "run", "-A", "main.ts"]`. */
  cli: string[];
  /** `CMDOP_SERVER`, `CMDOP_API_KEY`, `CMDOP_HOME`. */
  env: Record<string, string>;
  /** Hostname of the agent to attach to. */
  host: string;
}

const encoder = new TextEncoder();
/** Both sides run this shell, the one the OpenSSH baseline's user has, so shells do not differ. */
const SHELL = "/bin/sh";
const MARKER_TIMEOUT_MS = 30_000;

/**
 * Keystroke echo through `cmdop connect HOST`: the CLI runs under `script`
 * (so it has a terminal and goes raw), every echo comes from the remote pty
 * via agent and relay. The remote login shell is replaced by /bin/sh first.
 *
 * @example
 * ```ts
 * const m = await measureAttachEcho(stack, { keystrokes: 300 });
 * ```
 */
export async function measureAttachEcho(
  target: AttachTarget,
  options: { keystrokes: number },
): Promise<Measurement> {
  const session = attachSession(target);
  try {
    await session.write(encoder.encode(`exec ${SHELL}\n`));
    const samples = await measureEcho(session, { keystrokes: options.keystrokes });
    return {
      tool: "cmdop",
      metric: "echo",
      label: "keystroke echo, interactive sh (attach)",
      stats: summarizeLatency(samples),
      details: { command: session.command, samplesMs: samples },
    };
  } finally {
    await session.stop();
  }
}

/**
 * Keystroke echo of /bin/sh in a pty opened directly by the agent's
 * `openPty`: the same pty code with no CLI, relay or network in between.
 *
 * @example
 * ```ts
 * const m = await measureDirectPtyEcho({ keystrokes: 300 });
 * ```
 */
export async function measureDirectPtyEcho(options: { keystrokes: number }): Promise<Measurement> {
  const pty = localShell([SHELL, "-i"]);
  try {
    const samples = await measureEcho(
      { write: (bytes) => pty.write(bytes), output: pty.readable },
      { keystrokes: options.keystrokes },
    );
    return {
      tool: "pty",
      metric: "echo",
      label: "keystroke echo, direct pty (openPty)",
      stats: summarizeLatency(samples),
      details: { command: [SHELL, "-i"], samplesMs: samples },
    };
  } finally {
    await pty.close();
  }
}

/**
 * Terminal output rate of `cmdop connect HOST`: the remote shell runs
 * `head -c BYTES /dev/zero` on its pty and the bytes travel agent → relay →
 * CLI → the local terminal (`script`'s pty), under credit. Timed from the
 * first byte to the end marker; MB/s of the median run.
 *
 * @example
 * ```ts
 * const m = await measureAttachBulk(stack, { bytes: 100_000_000, runs: 3 });
 * ```
 */
export async function measureAttachBulk(
  target: AttachTarget,
  options: { bytes: number; runs: number },
): Promise<Measurement> {
  const session = attachSession(target);
  const reader = new MarkerReader(session.output);
  try {
    await session.write(encoder.encode(`exec ${SHELL}\n`));
    await session.write(encoder.encode(`echo RE""ADY\n`));
    await reader.until("READY");
    const seconds: number[] = [];
    for (let run = 1; run <= options.runs; run++) {
      await session.write(
        encoder.encode(`head -c ${options.bytes} /dev/zero; echo; echo BU""LK${run}\n`),
      );
      const { firstZeroAt, zeros } = await reader.until(`BULK${run}`);
      if (zeros !== options.bytes) {
        throw new Error(
          `Attach bulk run ${run} delivered ${zeros} bytes, expected "${options.bytes}"`,
        );
      }
      seconds.push((reader.lastAt - firstZeroAt!) / 1000);
    }
    return {
      tool: "cmdop",
      metric: "bulk.pty",
      label: `pty output, ${options.bytes / 1e6} MB (attach)`,
      stats: summarizeRate(options.bytes, seconds),
      details: { command: session.command, streamSeconds: seconds },
    };
  } finally {
    reader.stop();
    await session.stop();
  }
}

/**
 * The same output read straight from a local pty opened by `openPty`: what
 * the pty alone allows.
 *
 * @example
 * ```ts
 * const m = await measureDirectPtyBulk({ bytes: 100_000_000, runs: 3 });
 * ```
 */
export async function measureDirectPtyBulk(
  options: { bytes: number; runs: number },
): Promise<Measurement> {
  const seconds: number[] = [];
  for (let run = 0; run < options.runs; run++) {
    const pty = localShell([SHELL, "-c", `head -c ${options.bytes} /dev/zero`]);
    try {
      let bytes = 0;
      let first: number | undefined;
      for await (const chunk of pty.readable) {
        first ??= performance.now();
        bytes += chunk.length;
      }
      const end = performance.now();
      if (bytes !== options.bytes) {
        throw new Error(`Direct pty delivered ${bytes} bytes, expected "${options.bytes}"`);
      }
      seconds.push((end - first!) / 1000);
    } finally {
      await pty.close();
    }
  }
  return {
    tool: "pty",
    metric: "bulk.pty",
    label: `pty output, ${options.bytes / 1e6} MB (direct openPty)`,
    stats: summarizeRate(options.bytes, seconds),
    details: { command: [SHELL, "-c", "head -c BYTES /dev/zero"], streamSeconds: seconds },
  };
}

function localShell(argv: string[]): Pty {
  return openPty({
    argv,
    env: { PATH: "/usr/bin:/bin", PS1: "$ ", ENV: "" },
    rows: 24,
    cols: 80,
    term: "dumb",
  });
}

/** `cmdop connect HOST` on a terminal of its own (util-linux `script`), fed and read through pipes. */
function attachSession(
  target: AttachTarget,
): EchoTarget & { command: string[]; stop(): Promise<void> } {
  const line = [...target.cli, "connect", target.host].map(shellQuote).join(" ");
  const command = ["script", "-qfec", line, "/dev/null"];
  const child = new Deno.Command(command[0], {
    args: command.slice(1),
    // A dumb terminal keeps escape sequences out of the echo stream, as in the OpenSSH baseline.
    env: { ...target.env, TERM: "dumb" },
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const writer = child.stdin.getWriter();
  return {
    command,
    write: (bytes) => writer.write(bytes),
    output: child.stdout,
    async stop() {
      // Ctrl-D disconnects the CLI; closing stdin ends script.
      await writer.write(new Uint8Array([4])).catch(() => {});
      await writer.close().catch(() => {});
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* exited */ }
      }, 5_000);
      await child.stdout.cancel().catch(() => {});
      await child.status;
      clearTimeout(timer);
    },
  };
}

function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** Reads terminal output, counting NUL bytes and waiting for printed markers. */
class MarkerReader {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #tail = "";
  #zeros = 0;
  #firstZeroAt?: number;
  lastAt = 0;
  #decoder = new TextDecoder("latin1");

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }

  /** Reads until `marker` ends a line; returns the NUL bytes seen since the last marker. */
  async until(marker: string): Promise<{ zeros: number; firstZeroAt?: number }> {
    const deadline = performance.now() + MARKER_TIMEOUT_MS;
    // Two terminals translate "\n": the remote pty and the local one, each adding a "\r". A prompt
    // may precede the marker on its line; the typed command never matches, it splits the marker with quotes.
    const pattern = new RegExp(`${marker}\\r*\\n`);
    while (!pattern.test(this.#tail)) {
      const left = deadline - performance.now();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const { value, done } = await Promise.race([
        this.#reader.read(),
        new Promise<never>((_, reject) =>
          timer = setTimeout(() => {
            const last = JSON.stringify(this.#tail.slice(-80));
            reject(
              new Error(`No "${marker}" within ${MARKER_TIMEOUT_MS} ms; last output: ${last}`),
            );
          }, left)
        ),
      ]).finally(() => clearTimeout(timer));
      if (done) throw new Error(`Terminal output ended before "${marker}"`);
      this.lastAt = performance.now();
      const zeros = countZeros(value);
      if (zeros > 0) this.#firstZeroAt ??= this.lastAt;
      this.#zeros += zeros;
      // Markers come last and are short: only the end of each chunk is decoded, gigabytes are not kept.
      const end = this.#decoder.decode(value.subarray(Math.max(0, value.length - 256)));
      this.#tail = (this.#tail + end).replaceAll("\0", "").slice(-256);
    }
    const result = { zeros: this.#zeros, firstZeroAt: this.#firstZeroAt };
    this.#tail = "";
    this.#zeros = 0;
    this.#firstZeroAt = undefined;
    return result;
  }

  stop(): void {
    this.#reader.releaseLock();
  }
}

function countZeros(chunk: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < chunk.length; i++) if (chunk[i] === 0) n++;
  return n;
}
