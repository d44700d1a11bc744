/** Runs commands under a stopwatch: repeated round trips and bulk reads of a command's output. */

/** Options of {@linkcode timeCommand} and {@linkcode timeBulkRead}. */
export interface CommandOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** Kill the command after this long; default 60 s, 10 min for a bulk read. */
  timeoutMs?: number;
}

/**
 * Runs a command to completion with no input and discarded output; returns
 * the wall time from spawn to exit in milliseconds. Throws when it fails.
 *
 * @example
 * ```ts
 * const ms = await timeCommand("true", []);
 * ```
 */
export async function timeCommand(
  cmd: string,
  args: string[],
  options: CommandOptions = {},
): Promise<number> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const signal = AbortSignal.timeout(timeoutMs);
  const command = new Deno.Command(cmd, {
    args,
    env: options.env,
    cwd: options.cwd,
    signal,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  });
  const start = performance.now();
  const out = await command.output();
  const elapsed = performance.now() - start;
  if (signal.aborted) throw timeoutError(cmd, args, timeoutMs);
  if (!out.success) throw commandError(cmd, args, out.code, out.stderr);
  return elapsed;
}

/**
 * Calls `once` `warmup` times untimed, then `runs` times, and returns what the
 * timed calls returned (milliseconds, typically). Warm-up fills the page
 * cache and Deno's code cache, which a user's second call also finds warm.
 *
 * @example
 * ```ts
 * const samples = await repeat(50, 3, () => timeCommand("true", []));
 * ```
 */
export async function repeat(
  runs: number,
  warmup: number,
  once: () => Promise<number>,
): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await once();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) samples.push(await once());
  return samples;
}

/** What {@linkcode timeBulkRead} measured. */
export interface BulkRead {
  bytes: number;
  /** From the first byte of output to its end: the transfer alone. */
  streamSeconds: number;
  /** From spawn to exit: connection set-up and process start included. */
  wallSeconds: number;
}

/**
 * Runs a command, reads its stdout to the end and times it. Throws when it
 * fails or when the byte count is not `expectedBytes`.
 *
 * @example
 * ```ts
 * const { streamSeconds } = await timeBulkRead("head", ["-c", "1000000", "/dev/zero"], 1_000_000);
 * ```
 */
export async function timeBulkRead(
  cmd: string,
  args: string[],
  expectedBytes: number,
  options: CommandOptions = {},
): Promise<BulkRead> {
  const timeoutMs = options.timeoutMs ?? 600_000;
  const signal = AbortSignal.timeout(timeoutMs);
  const command = new Deno.Command(cmd, {
    args,
    env: options.env,
    cwd: options.cwd,
    signal,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
  const start = performance.now();
  const child = command.spawn();
  const stderr = new Response(child.stderr).arrayBuffer();
  let bytes = 0;
  let firstByte: number | undefined;
  const reader = child.stdout.getReader();
  // Killing the command is not enough when a grandchild still holds its stdout.
  const stopReading = () => reader.cancel().catch(() => {});
  signal.addEventListener("abort", stopReading);
  while (true) {
    const { value, done } = await reader.read();
    if (done) break;
    firstByte ??= performance.now();
    bytes += value.byteLength;
  }
  signal.removeEventListener("abort", stopReading);
  const end = performance.now();
  const status = await child.status;
  const wallSeconds = (performance.now() - start) / 1000;
  if (signal.aborted) throw timeoutError(cmd, args, timeoutMs);
  if (!status.success) {
    throw commandError(cmd, args, status.code, new Uint8Array(await stderr));
  }
  if (bytes !== expectedBytes) {
    throw new Error(
      `Command "${cmd}" wrote ${bytes} bytes, expected "${expectedBytes}"`,
    );
  }
  return {
    bytes,
    streamSeconds: (end - (firstByte ?? end)) / 1000,
    wallSeconds,
  };
}

function timeoutError(cmd: string, args: string[], timeoutMs: number): Error {
  return new Error(
    `Command "${[cmd, ...args].join(" ")}" killed after ${timeoutMs} ms`,
  );
}

function commandError(
  cmd: string,
  args: string[],
  code: number,
  stderr: Uint8Array,
): Error {
  const text = new TextDecoder().decode(stderr).trim();
  return new Error(
    `Command "${[cmd, ...args].join(" ")}" failed with exit code ${code}${text ? `: ${text}` : ""}`,
  );
}
