/** `cmdop connect audit`: the workspace's audit events as a table, or JSON lines for a SIEM. */
import type { CliContext } from "../../context.ts";
import { parseDuration } from "../../duration.ts";
import { CliError } from "../../errors.ts";
import type { GlobalOptions, RunState } from "../../globals.ts";
import { connectRelay } from "../../relay_client.ts";
import { formatTable } from "../../ui/table.ts";

/** An event as the relay's AuditService returns it, or as the operator reads it from the store. */
export interface ListedEvent {
  seq: bigint | number;
  timeMs: bigint | number;
  kind: string;
  actorKind: string;
  actorId: string;
  peer: string;
  machineId: string;
  machineName: string;
  detailJson: string;
  /** Set when the operator lists every workspace. */
  workspaceId?: string;
}

export interface AuditOptions {
  machine?: string;
  /** A duration back from now (`24h`) or a date (`2026-12-01`, ISO 8601). */
  since: string;
  limit: string;
}

/**
 * Pages through the workspace's events since `--since`, oldest first, up to `--limit`;
 * says on stderr when more were left out.
 *
 * @example
 * ```ts
 * await runAudit(ctx, globals, state, { since: "24h", limit: "1000" });
 * ```
 */
export async function runAudit(
  ctx: CliContext,
  globals: GlobalOptions,
  state: RunState,
  options: AuditOptions,
): Promise<void> {
  const sinceMs = sinceOf(ctx, options.since);
  const limit = limitOf(options.limit);
  const conn = await connectRelay(ctx, globals, state);
  const events: ListedEvent[] = [];
  let pageToken = "";
  let more = false;
  do {
    const page = await conn.audit.listEvents({
      sinceMs: BigInt(sinceMs),
      machine: options.machine ?? "",
      limit: Math.min(limit - events.length, 1000),
      pageToken,
    }, { signal: ctx.signal });
    events.push(...page.events);
    pageToken = page.nextPageToken;
    more = pageToken !== "" && events.length >= limit;
  } while (pageToken && events.length < limit);
  await printAuditEvents(ctx, { json: globals.json, events, sinceMs, limit, more });
}

/**
 * Prints events as a table, or with `json` as JSON lines; says on stderr when there were
 * none, or when `more` followed past `limit`.
 *
 * @example
 * ```ts
 * await printAuditEvents(ctx, { json: true, events, sinceMs, limit: 1000, more: false });
 * ```
 */
export async function printAuditEvents(
  ctx: CliContext,
  { json, events, sinceMs, limit, more }: {
    json: boolean;
    events: ListedEvent[];
    sinceMs: number;
    limit: number;
    more: boolean;
  },
): Promise<void> {
  if (json) {
    const lines = events.map((e) => JSON.stringify(eventJson(e)) + "\n");
    await ctx.stdout.write(lines.join(""));
  } else if (events.length === 0) {
    await ctx.stderr.write(`no audit events since ${new Date(sinceMs).toISOString()}\n`);
  } else {
    await ctx.stdout.write(formatTable(
      ["TIME", "WHO", "FROM", "MACHINE", "WHAT", "RESULT"],
      events.map(row),
    ));
  }
  if (more) {
    await ctx.stderr.write(
      `more events follow: the first ${limit} are shown; raise --limit or narrow --since\n`,
    );
  }
}

/** `--limit`: a whole number of at least 1. */
export function limitOf(text: string): number {
  const limit = Number(text);
  if (!/^\d+$/.test(text.trim()) || limit < 1) {
    throw new CliError(`--limit "${text}" is not a whole number of at least 1`);
  }
  return limit;
}

/** `--since`: a date (`2026-12-01`, ISO 8601) or a duration back from now (`24h`, `7d`). */
export function sinceOf(ctx: CliContext, text: string): number {
  if (/^\d{4}-/.test(text.trim())) {
    const ms = Date.parse(text.trim());
    if (Number.isNaN(ms)) {
      throw new CliError(`--since "${text}" is not a date`, { hint: "e.g. 2026-12-01T08:00Z" });
    }
    return ms;
  }
  return Math.max(0, ctx.now() - parseDuration(text, "--since", "h"));
}

/** One event as `--json` prints it: flat facts, and the kind's own under `detail`. */
function eventJson(e: ListedEvent): Record<string, unknown> {
  return {
    ...(e.workspaceId === undefined ? {} : { workspace_id: e.workspaceId }),
    time: new Date(Number(e.timeMs)).toISOString(),
    time_ms: Number(e.timeMs),
    seq: Number(e.seq),
    kind: e.kind,
    actor_kind: e.actorKind,
    actor_id: e.actorId,
    peer: e.peer,
    machine_id: e.machineId,
    machine: e.machineName,
    detail: detailOf(e),
  };
}

function detailOf(e: ListedEvent): Record<string, unknown> {
  try {
    return JSON.parse(e.detailJson || "{}");
  } catch {
    return {};
  }
}

function row(e: ListedEvent): string[] {
  const detail = detailOf(e);
  const what = [e.kind];
  if (typeof detail.session_kind === "string") what.push(detail.session_kind);
  if (Array.isArray(detail.argv)) what.push(clip(detail.argv.join(" ")));
  if (typeof detail.path === "string") what.push(clip(detail.path));
  if (typeof detail.target === "string") what.push(detail.target);
  if (typeof detail.share_id === "string") what.push(detail.share_id);
  if (typeof detail.fingerprint === "string") what.push(detail.fingerprint);
  if (typeof detail.email === "string") what.push(detail.email);
  return [
    new Date(Number(e.timeMs)).toISOString(),
    `${e.actorKind} ${e.actorId}`.trim(),
    e.peer || "-",
    e.machineName || e.machineId || "-",
    what.join(" "),
    result(detail),
  ];
}

/** Exit status, duration and bytes of a session's end; the reason of a refusal. */
function result(detail: Record<string, unknown>): string {
  const parts: string[] = [];
  if (typeof detail.exit_code === "number") parts.push(`exit ${detail.exit_code}`);
  if (typeof detail.signal === "string") parts.push(detail.signal);
  if (typeof detail.duration_ms === "number") parts.push(`${detail.duration_ms}ms`);
  if (typeof detail.bytes_in === "number") {
    parts.push(`in ${detail.bytes_in}B out ${detail.bytes_out}B`);
  }
  if (typeof detail.reason === "string" && parts.length === 0) parts.push(detail.reason);
  return parts.join(", ") || "-";
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 39)}…` : text;
}
