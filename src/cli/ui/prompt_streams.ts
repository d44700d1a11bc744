/** promptStreams: the input and output an @inquirer prompt uses, made from the CLI context instead of process.stdin/stdout. */
import { PassThrough, Writable } from "node:stream";
import type { CliContext } from "../context.ts";
import type { TerminalInput } from "./terminal_input.ts";

/** The `context` argument of an @inquirer prompt. */
export interface PromptContext {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  signal?: AbortSignal;
}

/** Streams for one prompt; `finish()` once it settled, before anything else writes to the terminal. */
export interface PromptStreams {
  context: PromptContext;
  /** Gives the keyboard back and waits until everything the prompt drew is written out. */
  finish(): Promise<void>;
}

/**
 * Builds streams for one prompt. Keystrokes come from `input` (so they are
 * never raced for by a second reader of stdin, as `process.stdin` would be);
 * drawing goes to `ctx.stdout`, which reports the terminal's width. Raw mode
 * is switched through the context, as readline asks for it.
 *
 * @example
 * ```ts
 * const streams = promptStreams(ctx, input);
 * try {
 *   return await confirm({ message: "Attach?" }, streams.context);
 * } finally {
 *   await streams.finish();
 * }
 * ```
 */
export function promptStreams(ctx: CliContext, input: TerminalInput): PromptStreams {
  const keys = Object.assign(new PassThrough(), {
    isTTY: true,
    setRawMode(mode: boolean) {
      ctx.stdin.setRaw(mode);
      return keys;
    },
  });
  const release = input.lend((chunk) => {
    if (chunk === null) keys.end();
    else keys.write(chunk);
  });

  // Every chunk is accepted at once and written in order on a chain that finish() waits for: with
  // a callback per finished write, the prompt's last lines would still sit in the stream's buffer then.
  let written: Promise<void> = Promise.resolve();
  const output = new Writable({
    write(chunk: Uint8Array | string, _encoding, callback) {
      written = written.then(() => ctx.stdout.write(chunk)).catch(() => {});
      callback();
    },
  });
  Object.defineProperties(output, {
    isTTY: { value: true },
    columns: { get: () => ctx.stdout.size()?.cols ?? 80 },
    rows: { get: () => ctx.stdout.size()?.rows ?? 24 },
  });

  return {
    context: { input: keys, output, signal: ctx.signal },
    async finish() {
      release();
      keys.end();
      // Readline leaves raw mode when it closes; an aborted prompt may not have got that far.
      ctx.stdin.setRaw(false);
      await written;
    },
  };
}
