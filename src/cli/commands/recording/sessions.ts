/** `cmdop connect sessions`: the workspace's recorded sessions, newest first, as a table or JSON lines. */
import type { Recording } from "../../../../gen/cmdop/v1/recording_pb.ts";
import type { CliContext } from "../../context.ts";
import type { GlobalOptions, RunState } from "../../globals.ts";
import { connectRelay } from "../../relay_client.ts";
import { formatTable } from "../../ui/table.ts";
import { limitOf, sinceOf } from "../audit/list.ts";

export interface SessionsOptions {
  machine?: string;
  /** A duration back from now (`7d`) or a date (`2026-12-01`). */
  since: string;
  limit: string;
}

/**
 * Pages through the workspace's recordings started since `--since`, newest first, up to
 * `--limit`; says on stderr when there were none, or more.
 *
 * @example
 * ```ts
 * await runSessions(ctx, globals, state, { since: "7d", limit: "100" });
 * ```
 */
export async function runSessions(
  ctx: CliContext,
  globals: GlobalOptions,
  state: RunState,
  options: SessionsOptions,
): Promise<void> {
  const sinceMs = sinceOf(ctx, options.since);
  const limit = limitOf(options.limit);
  const conn = await connectRelay(ctx, globals, state);
  const recordings: Recording[] = [];
  let pageToken = "";
  do {
    const page = await conn.recordings.listRecordings({
      sinceMs: BigInt(sinceMs),
      machine: options.machine ?? "",
      limit: Math.min(limit - recordings.length, 1000),
      pageToken,
    }, { signal: ctx.signal });
    recordings.push(...page.recordings);
    pageToken = page.nextPageToken;
  } while (pageToken && recordings.length < limit);
  if (globals.json) {
    await ctx.stdout.write(recordings.map((r) => JSON.stringify(recordingJson(r)) + "\n").join(""));
  } else if (recordings.length === 0) {
    await ctx.stderr.write(
      `no recorded sessions since ${new Date(sinceMs).toISOString()}\n`,
    );
  } else {
    await ctx.stdout.write(formatTable(
      ["ID", "MACHINE", "WHO", "KIND", "STARTED", "DURATION", "BYTES"],
      recordings.map(row),
    ));
  }
  if (pageToken) {
    await ctx.stderr.write(
      `more sessions follow: the newest ${limit} are shown; raise --limit or narrow --since\n`,
    );
  }
}

/** One recording as `--json` prints it. */
function recordingJson(r: Recording): Record<string, unknown> {
  const ended = Number(r.endedMs);
  return {
    id: r.id,
    machine: r.machineName,
    machine_id: r.machineId,
    actor_kind: r.actorKind,
    actor_id: r.actorId,
    kind: r.kind,
    argv: r.argv,
    started: new Date(Number(r.startedMs)).toISOString(),
    started_ms: Number(r.startedMs),
    ended_ms: ended || null,
    duration_ms: ended ? ended - Number(r.startedMs) : null,
    bytes: Number(r.bytes),
    output_bytes: Number(r.outputBytes),
    truncated: r.truncated,
    gap_bytes: Number(r.gapBytes),
    exit_code: r.exited ? r.exitCode : null,
    width: r.width,
    height: r.height,
  };
}

function row(r: Recording): string[] {
  const ended = Number(r.endedMs);
  const what = r.kind === "exec" ? `exec ${clip(r.argv.join(" "))}` : r.kind;
  return [
    r.id,
    r.machineName || r.machineId,
    `${r.actorKind} ${r.actorId}`.trim(),
    what,
    new Date(Number(r.startedMs)).toISOString().replace(/\.\d{3}Z$/, "Z"),
    ended ? duration(ended - Number(r.startedMs)) : "-",
    `${size(Number(r.bytes))}${r.truncated ? " (cut)" : ""}`,
  ];
}

/** `850ms`, `12s`, `3m05s`, `2h07m`. */
export function duration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, "0")}m`;
}

/** `512B`, `4.0KiB`, `12.3MiB`. */
export function size(bytes: number): string {
  if (bytes < 1024) return `${bytes}B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)}KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)}MiB`;
  return `${(bytes / 1024 ** 3).toFixed(1)}GiB`;
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 39)}…` : text;
}
