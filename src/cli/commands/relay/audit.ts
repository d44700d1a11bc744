/** `cmdop relay audit`: the operator reads the audit log straight from the relay's store, one workspace or all. */
import type { CliContext } from "../../context.ts";
import { CliError } from "../../errors.ts";
import { limitOf, type ListedEvent, printAuditEvents, sinceOf } from "../audit/list.ts";

export interface RelayAuditOptions {
  /** A workspace's name; every workspace when absent. */
  workspace?: string;
  data?: string;
  store?: string;
  machine?: string;
  since: string;
  limit: string;
  json: boolean;
}

/**
 * Lists events since `--since`, oldest first, as `cmdop connect audit` prints them (with the
 * workspace id in each JSON line when no workspace is named).
 *
 * @example
 * ```ts
 * await runRelayAudit(ctx, { data: "/var/lib/cmdop", since: "24h", limit: "1000", json: true });
 * ```
 */
export async function runRelayAudit(ctx: CliContext, options: RelayAuditOptions): Promise<void> {
  const sinceMs = sinceOf(ctx, options.since);
  const limit = limitOf(options.limit);
  const { openOperatorStore } = await import("./backends.ts");
  const { store, audit } = await openOperatorStore(ctx, options);
  try {
    let workspaceId: string | undefined;
    if (options.workspace !== undefined) {
      const workspace = await store.workspaceByName(options.workspace);
      if (!workspace) {
        throw new CliError(`workspace "${options.workspace}" does not exist in this relay's store`);
      }
      workspaceId = workspace.id;
    }
    const events: ListedEvent[] = [];
    let after: { timeMs: number; seq: number } | undefined;
    let more = false;
    for (;;) {
      const want = Math.min(limit - events.length, 1000);
      const page = await audit.list({
        workspaceId,
        sinceMs,
        machine: options.machine,
        after,
        limit: want,
      });
      events.push(...page.map((e) => ({
        ...e,
        detailJson: JSON.stringify(e.detail),
        workspaceId: workspaceId === undefined ? e.workspaceId : undefined,
      })));
      if (page.length < want) break;
      if (events.length >= limit) {
        more = (await audit.list({
          workspaceId,
          sinceMs,
          machine: options.machine,
          after: last(page),
          limit: 1,
        })).length > 0;
        break;
      }
      after = last(page);
    }
    await printAuditEvents(ctx, { json: options.json, events, sinceMs, limit, more });
  } finally {
    await store.close();
  }
}

function last(page: { timeMs: number; seq: number }[]): { timeMs: number; seq: number } {
  const { timeMs, seq } = page[page.length - 1];
  return { timeMs, seq };
}
