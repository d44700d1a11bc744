/** `cmdop connect password list`: which machines have a remembered attach password (never the passwords). */
import { listMachinePasswords } from "../../../config/passwords.ts";
import type { CliContext } from "../../context.ts";
import type { GlobalOptions } from "../../globals.ts";
import { formatAgo, formatTable } from "../../ui/table.ts";

/**
 * Lists stored passwords, of `--workspace` only when given.
 *
 * @example
 * ```ts
 * await runPasswordList(ctx, globals);
 * ```
 */
export async function runPasswordList(ctx: CliContext, globals: GlobalOptions): Promise<void> {
  const entries = await listMachinePasswords(ctx.home(), globals.workspace);
  if (globals.json) {
    const rows = entries.map((e) => ({
      workspace: e.workspace,
      hostname: e.hostname,
      machine_id: e.machine_id,
      saved_at: new Date(e.saved_at_ms).toISOString(),
    }));
    await ctx.stdout.write(JSON.stringify(rows, null, 2) + "\n");
    return;
  }
  if (entries.length === 0) {
    await ctx.stderr.write("no machine passwords stored\n");
    return;
  }
  const now = ctx.now();
  const rows = entries.map((e) => [
    e.workspace,
    e.hostname,
    e.machine_id,
    formatAgo(e.saved_at_ms, now),
  ]);
  await ctx.stdout.write(formatTable(["WORKSPACE", "HOSTNAME", "MACHINE ID", "SAVED"], rows));
}
