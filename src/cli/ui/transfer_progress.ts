/** transferProgress: a progress line for a copy (bytes, rate, time left) on a terminal's stderr, drawn by cli-progress. */
// @ts-types="@types/cli-progress"
import { SingleBar } from "cli-progress";
import type { CliContext } from "../context.ts";
import type { GlobalOptions } from "../globals.ts";

/** What a copy reports its progress to; the silent one does nothing. */
export interface TransferProgress {
  /** The total, once known (bytes). */
  total(bytes: number): void;
  /** Bytes done so far. */
  update(bytes: number): void;
  /** Draws the last state and leaves the line; resolves once it is written. */
  stop(): Promise<void>;
}

const SILENT: TransferProgress = { total() {}, update() {}, stop: () => Promise.resolve() };

/**
 * A progress line on stderr when it is a terminal and neither `--json` nor `-q` was given;
 * otherwise one that draws nothing. cli-progress writes to the stream it is given, so it gets
 * the context's stderr (in order: each write waits for the one before).
 *
 * @example
 * ```ts
 * const progress = transferProgress(ctx, globals, "app.tar.gz");
 * progress.total(size); progress.update(done); progress.stop();
 * ```
 */
export function transferProgress(
  ctx: CliContext,
  globals: GlobalOptions,
  label: string,
): TransferProgress {
  if (globals.json || !globals.interactive || !ctx.stderr.isTerminal()) return SILENT;
  let chain = Promise.resolve();
  const stream = {
    isTTY: true,
    get columns() {
      return ctx.stderr.size()?.cols ?? 80;
    },
    write(text: string) {
      chain = chain.then(() => ctx.stderr.write(text)).catch(() => {});
      return true;
    },
    // readline's cursor helpers call these on a Node stream; text is all they need here.
    on() {},
    removeListener() {},
  };
  let known = false;
  // The rate counts from the first byte, not from the connection's set-up.
  let first: { at: number; bytes: number } | undefined;
  const bar = new SingleBar({
    // deno-lint-ignore no-explicit-any
    stream: stream as any,
    format: (_options, params, payload) => {
      const done = params.value;
      const elapsed = first ? Math.max(0.001, (Date.now() - first.at) / 1000) : 0;
      const rate = first && elapsed > 0.05 ? (done - first.bytes) / elapsed : 0;
      const parts = [payload.label as string, formatBytes(done)];
      if (known) {
        parts[1] += ` / ${formatBytes(params.total)}`;
        parts.push(`${Math.floor(params.progress * 100)}%`);
      }
      if (rate > 0) parts.push(`${formatBytes(rate)}/s`);
      if (known && rate > 0 && done < params.total) {
        parts.push(`ETA ${formatSeconds((params.total - done) / rate)}`);
      }
      return parts.join("  ");
    },
    fps: 5,
    hideCursor: false,
    clearOnComplete: false,
    linewrap: false,
  });
  bar.start(0, 0, { label });
  return {
    total(bytes) {
      known = true;
      bar.setTotal(bytes);
    },
    update(bytes) {
      if (bytes > 0) first ??= { at: Date.now(), bytes };
      if (!known) bar.setTotal(Math.max(bytes, 1));
      bar.update(bytes);
    },
    stop() {
      bar.stop();
      return chain;
    },
  };
}

/** 1536 → "1.5 KiB". */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** 75 → "1m15s". */
function formatSeconds(seconds: number): string {
  const s = Math.ceil(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, "0")}m`;
}
