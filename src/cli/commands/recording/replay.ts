/** `cmdop connect replay ID`: streams a recording from the relay and plays it, or writes the asciicast file itself. */
import type { CliContext } from "../../context.ts";
import { CliError } from "../../errors.ts";
import type { GlobalOptions, RunState } from "../../globals.ts";
import { connectRelay } from "../../relay_client.ts";
import { MalformedCastError, playCast } from "./cast_player.ts";

export interface ReplayOptions {
  id: string;
  /** `--speed`: a factor above 0. */
  speed: string;
  /** `--idle-limit`: seconds. */
  idleLimit?: string;
  /** `--raw`: the file as stored, whatever stdout is. */
  raw: boolean;
}

/**
 * Plays the recording on a terminal (or writes it, with `--raw` or stdout not a terminal);
 * the relay streams it and the player pulls it as it plays, so nothing holds it whole.
 *
 * @example
 * ```ts
 * await runReplay(ctx, globals, state, { id, speed: "2", raw: false });
 * ```
 */
export async function runReplay(
  ctx: CliContext,
  globals: GlobalOptions,
  state: RunState,
  options: ReplayOptions,
): Promise<void> {
  const speed = positive(options.speed, "--speed", "e.g. --speed 2 plays twice as fast");
  const idleLimitS = options.idleLimit === undefined
    ? undefined
    : positive(options.idleLimit, "--idle-limit", "e.g. --idle-limit 2 (seconds)");
  const conn = await connectRelay(ctx, globals, state);
  const stream = conn.recordings.readRecording({ id: options.id }, { signal: ctx.signal });
  const chunks = (async function* () {
    for await (const message of stream) if (message.data.length > 0) yield message.data;
  })();
  if (options.raw || !ctx.stdout.isTerminal()) {
    for await (const chunk of chunks) await ctx.stdout.write(chunk);
    return;
  }
  try {
    const { exitStatus } = await playCast(chunks, { speed, idleLimitS }, {
      stdout: (text) => ctx.stdout.write(text),
      stderr: (text) => ctx.stderr.write(text),
      sleep: (ms) => sleep(ms, ctx.signal),
    });
    const status = exitStatus === undefined ? "" : ` (exit status ${exitStatus})`;
    await ctx.stderr.write(`\r\nend of recording ${options.id}${status}\n`);
  } catch (error) {
    if (error instanceof MalformedCastError) {
      throw new CliError(`recording "${options.id}" cannot be played: ${error.message}`, {
        hint: "write it as stored with --raw and look at it",
      });
    }
    throw error;
  }
}

function positive(text: string, flag: string, hint: string): number {
  const value = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text.trim()) || !(value > 0) || value > 1e6) {
    throw new CliError(`${flag} "${text}" is not a number above 0`, { hint });
  }
  return value;
}

/** Resolves after `ms`, or at once when `signal` aborts (the player then stops at its next step). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", aborted);
    };
    const aborted = () => {
      done();
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      done();
      resolve();
    }, ms);
    signal.addEventListener("abort", aborted, { once: true });
  });
}
