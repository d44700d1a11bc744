/** `cmdop connect workspace list`: every local workspace, the active one marked, keys masked. */
import { maskKey } from "../../../config/api_keys.ts";
import { listWorkspaces } from "../../../config/workspaces.ts";
import type { CliContext } from "../../context.ts";
import type { GlobalOptions } from "../../globals.ts";
import { formatTable } from "../../ui/table.ts";

/**
 * Prints `ssh_workspaces.json` as a table (`*` marks the active workspace) or, with
 * `--json`, as an array. API keys are only ever shown masked.
 *
 * @example
 * ```ts
 * await runWorkspaceList(ctx, globals);
 * ```
 */
export async function runWorkspaceList(ctx: CliContext, globals: GlobalOptions): Promise<void> {
  const workspaces = await listWorkspaces(ctx.home());
  if (globals.json) {
    const rows = workspaces.map((w) => ({
      name: w.name,
      active: w.active,
      workspace_id: w.workspace_id ?? null,
      api_key: w.api_key ? maskKey(w.api_key) : null,
      server: w.server ?? null,
      synced_server: w.synced_server ?? null,
    }));
    await ctx.stdout.write(JSON.stringify(rows, null, 2) + "\n");
    return;
  }
  if (workspaces.length === 0) {
    await ctx.stderr.write(
      'no workspaces yet: run "cmdop connect key set <KEY>" or "cmdop connect workspace sync"\n',
    );
    return;
  }
  const rows = workspaces.map((w) => [
    w.active ? "*" : "",
    w.name,
    w.api_key ? maskKey(w.api_key) : "-",
    w.server ?? w.synced_server ?? "-",
    w.workspace_id ?? "-",
  ]);
  await ctx.stdout.write(formatTable(["", "NAME", "API KEY", "SERVER", "ID"], rows));
}
