/** `cmdop connect share revoke <id>`: end a share link now. */
import type { CliContext } from "../../context.ts";
import { CliError, ExitCode } from "../../errors.ts";
import type { GlobalOptions, RunState } from "../../globals.ts";
import { connectRelay } from "../../relay_client.ts";
import { isUuidShaped } from "../../../lib/secrets.ts";

/**
 * Revokes a share by id, or by a unique prefix of one (as `share list` prints them);
 * the link stops working on its next use. Revoking twice is not an error.
 *
 * @example
 * ```ts
 * await runShareRevoke(ctx, globals, state, { id: "3f2a" });
 * ```
 */
export async function runShareRevoke(
  ctx: CliContext,
  globals: GlobalOptions,
  state: RunState,
  options: { id: string },
): Promise<void> {
  const conn = await connectRelay(ctx, globals, state);
  let id = options.id.trim().toLowerCase();
  if (!isUuidShaped(id)) {
    const { shares } = await conn.shares.listShares({}, { signal: ctx.signal });
    const found = id.length >= 4 ? shares.filter((s) => s.id.startsWith(id)) : [];
    if (found.length !== 1) {
      throw new CliError(
        found.length === 0
          ? `no share with id "${options.id}"`
          : `"${options.id}" matches ${found.length} shares`,
        {
          exitCode: found.length === 0 ? ExitCode.generic : ExitCode.ambiguous,
          hint: "see the ids with: cmdop connect share list",
        },
      );
    }
    id = found[0].id;
  }
  await conn.shares.revokeShare({ shareId: id }, { signal: ctx.signal });
  if (globals.json) {
    await ctx.stdout.write(JSON.stringify({ id, revoked: true }) + "\n");
    return;
  }
  await ctx.stdout.write(`share ${id} revoked\n`);
}
