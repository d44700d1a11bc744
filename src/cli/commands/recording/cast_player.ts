/** playCast: plays an asciicast v2 stream (header line, then [seconds, code, data] lines) at its real speed. */

/** Longest line of a recording the player reads (an output event of 64 KiB is at most ~400 KiB). */
export const MAX_LINE_BYTES = 8 * 1024 * 1024;

/** Where and how the player writes and waits. */
export interface CastPlayerIo {
  stdout(text: string): Promise<void>;
  stderr(text: string): Promise<void>;
  /** Waits `ms`; rejects (or resolves early) when playing is cancelled. */
  sleep(ms: number): Promise<void>;
}

/** Options of {@linkcode playCast}. */
export interface PlayOptions {
  /** Played this many times faster. */
  speed: number;
  /** Every pause shortened to at most this many seconds (else the header's idle_time_limit). */
  idleLimitS?: number;
}

/** A recording the player cannot read. */
export class MalformedCastError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MalformedCastError";
  }
}

/** What was played. */
export interface PlayResult {
  header: Record<string, unknown>;
  /** The `"x"` event's status, when the recording has one. */
  exitStatus?: string;
}

/**
 * Reads `chunks` line by line, never more than one line held, and plays each event at its
 * time: `"o"` to stdout, `"e"` (cmdop's stderr of an exec) to stderr, `"m"` markers on
 * stderr as a note; `"r"` and unknown codes are skipped (a terminal cannot be resized
 * from inside it).
 *
 * @example
 * ```ts
 * await playCast(chunks, { speed: 2 }, { stdout, stderr, sleep });
 * ```
 */
export async function playCast(
  chunks: AsyncIterable<Uint8Array>,
  options: PlayOptions,
  io: CastPlayerIo,
): Promise<PlayResult> {
  let header: Record<string, unknown> | undefined;
  let exitStatus: string | undefined;
  let clock = 0; // the recording's time of the last event played, in seconds
  let idleLimit = options.idleLimitS;
  for await (const line of lines(chunks)) {
    if (line.trim() === "") continue;
    if (!header) {
      header = parseHeader(line);
      if (idleLimit === undefined && typeof header.idle_time_limit === "number") {
        idleLimit = header.idle_time_limit;
      }
      continue;
    }
    const [seconds, code, data] = parseEvent(line);
    let pause = Math.max(0, seconds - clock);
    clock = Math.max(clock, seconds);
    if (idleLimit !== undefined) pause = Math.min(pause, idleLimit);
    if (pause > 0) await io.sleep((pause * 1000) / options.speed);
    if (code === "o") await io.stdout(data);
    else if (code === "e") await io.stderr(data);
    else if (code === "m" && data) await io.stderr(`\r\n[${data}]\r\n`);
    else if (code === "x") exitStatus = data;
  }
  if (!header) throw new MalformedCastError("the recording is empty: it has no asciicast header");
  return { header, exitStatus };
}

async function* lines(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of chunks) {
    pending += decoder.decode(chunk, { stream: true });
    let at: number;
    while ((at = pending.indexOf("\n")) >= 0) {
      yield pending.slice(0, at);
      pending = pending.slice(at + 1);
    }
    if (pending.length > MAX_LINE_BYTES) {
      throw new MalformedCastError(
        `a line of the recording is longer than ${MAX_LINE_BYTES} bytes`,
      );
    }
  }
  pending += decoder.decode();
  if (pending) yield pending;
}

function parseHeader(line: string): Record<string, unknown> {
  let header: unknown;
  try {
    header = JSON.parse(line);
  } catch {
    throw new MalformedCastError("the recording's first line is not a JSON header");
  }
  if (
    typeof header !== "object" || header === null || (header as { version?: unknown }).version !== 2
  ) {
    throw new MalformedCastError("the recording is not asciicast version 2");
  }
  return header as Record<string, unknown>;
}

function parseEvent(line: string): [number, string, string] {
  let event: unknown;
  try {
    event = JSON.parse(line);
  } catch {
    throw new MalformedCastError(`an event of the recording is not JSON: ${line.slice(0, 60)}`);
  }
  if (
    !Array.isArray(event) || typeof event[0] !== "number" || typeof event[1] !== "string" ||
    typeof event[2] !== "string"
  ) {
    throw new MalformedCastError(
      `an event of the recording is not [time, code, data]: ${line.slice(0, 60)}`,
    );
  }
  return [event[0], event[1], event[2]];
}
