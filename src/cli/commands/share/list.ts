/** `cmdop connect share list`: the workspace's share links, with their expiry and status. */
import type { CliContext } from "../../context.ts";
import type { GlobalOptions, RunState } from "../../globals.ts";
import { connectRelay } from "../../relay_client.ts";
import { formatTable } from "../../ui/table.ts";
import { shareJson, shareStatus } from "./create.ts";

/**
 * Lists every share of the workspace, revoked and expired ones included (links are
 * never shown again: only their hashes are kept).
 *
 * @example
 * ```ts
 * await runShareList(ctx, globals, state);
 * ```
 */
export async function runShareList(
  ctx: CliContext,
  globals: GlobalOptions,
  state: RunState,
): Promise<void> {
  const conn = await connectRelay(ctx, globals, state);
  const { shares } = await conn.shares.listShares({}, { signal: ctx.signal });
  const now = ctx.now();
  if (globals.json) {
    await ctx.stdout.write(JSON.stringify(shares.map((s) => shareJson(s, now)), null, 2) + "\n");
    return;
  }
  if (shares.length === 0) {
    await ctx.stderr.write("no share links yet\n");
    return;
  }
  const rows = shares.map((s) => [
    s.id,
    s.machineHostname || s.machineId,
    new Date(Number(s.createdMs)).toISOString(),
    Number(s.expiresMs) === 0 ? "never" : new Date(Number(s.expiresMs)).toISOString(),
    shareStatus(s, now),
    s.readOnly ? "read-only" : "full",
  ]);
  await ctx.stdout.write(
    formatTable(["ID", "MACHINE", "CREATED", "EXPIRES", "STATUS", "ACCESS"], rows),
  );
}
