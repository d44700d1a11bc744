/** `cmdop connect --list [--online]`: the machine inventory as a table or JSON. */
import type { Machine } from "../../../../gen/cmdop/v1/machine_pb.ts";
import type { CliContext } from "../../context.ts";
import type { GlobalOptions, RunState } from "../../globals.ts";
import { formatLabels } from "../../../lib/labels.ts";
import { labelSelector, selectByLabels } from "../../label_selector.ts";
import { connectRelay } from "../../relay_client.ts";
import { formatAgo, formatTable } from "../../ui/table.ts";

export interface ListOptions {
  online: boolean;
  /** `--label key=value` values: only machines carrying all of them. */
  labels?: string[];
}

/** Prints the workspace's machines. */
export async function runList(
  ctx: CliContext,
  globals: GlobalOptions,
  state: RunState,
  options: ListOptions,
): Promise<void> {
  const selector = labelSelector(options.labels);
  const conn = await connectRelay(ctx, globals, state);
  const listed = await conn.machines.listMachines(
    { onlineOnly: options.online },
    { signal: ctx.signal },
  );
  // Filtered here, not by the relay: a relay without labels must not make a filter match all.
  const machines = sortMachines(selectByLabels(listed.machines, selector));
  if (globals.json) {
    await ctx.stdout.write(JSON.stringify(machines.map(machineJson), null, 2) + "\n");
    return;
  }
  if (machines.length === 0) {
    const filtered = Object.keys(selector).length > 0;
    await ctx.stderr.write(
      filtered
        ? `no ${options.online ? "online " : ""}machine has the labels ${formatLabels(selector)}\n`
        : options.online
        ? "no machines online\n"
        : "no machines yet\n",
    );
    return;
  }
  const now = ctx.now();
  const rows = machines.map((m) => [
    m.displayName,
    m.hostname,
    m.id,
    m.online ? "online" : "offline",
    formatAgo(Number(m.lastHeartbeatMs), now),
    formatLabels(m.labels ?? {}),
  ]);
  await ctx.stdout.write(
    formatTable(["NAME", "HOSTNAME", "ID", "STATUS", "LAST HEARTBEAT", "LABELS"], rows),
  );
}

/** By name as people read it: case and accents ignored, then by hostname. */
const collator = new Intl.Collator("en", { sensitivity: "base", numeric: true });

/**
 * The inventory's order: by display name (hostname when none), ignoring case, with
 * numbers in numeric order (`web-2` before `web-10`), then by hostname.
 *
 * @example
 * ```ts
 * sortMachines(machines).map((m) => m.hostname); // ["alpha", "Bravo", "charlie"]
 * ```
 */
export function sortMachines(machines: readonly Machine[]): Machine[] {
  return [...machines].sort((a, b) =>
    collator.compare(a.displayName || a.hostname, b.displayName || b.hostname) ||
    collator.compare(a.hostname, b.hostname)
  );
}

/** A machine as scripts see it in `--json` output. */
export function machineJson(m: Machine): Record<string, unknown> {
  const last = Number(m.lastHeartbeatMs);
  return {
    id: m.id,
    hostname: m.hostname,
    display_name: m.displayName,
    online: m.online,
    last_heartbeat: last ? new Date(last).toISOString() : null,
    os: m.os,
    arch: m.arch,
    has_password: m.hasPassword,
    labels: Object.fromEntries(Object.entries(m.labels ?? {}).sort(([a], [b]) => a < b ? -1 : 1)),
  };
}
