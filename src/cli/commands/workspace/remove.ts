/** `cmdop connect workspace remove NAME`: delete a workspace locally, with its API key. */
import { removeWorkspace } from "../../../config/workspaces.ts";
import type { CliContext } from "../../context.ts";
import type { GlobalOptions } from "../../globals.ts";

/**
 * Removes the workspace from `ssh_workspaces.json` (nothing changes on the relay);
 * when it was active, no workspace is active afterwards.
 *
 * @example
 * ```ts
 * await runWorkspaceRemove(ctx, globals, { name: "staging" });
 * ```
 */
export async function runWorkspaceRemove(
  ctx: CliContext,
  globals: GlobalOptions,
  options: { name: string },
): Promise<void> {
  const { removed, wasActive } = await removeWorkspace(ctx.home(), options.name);
  if (globals.json) {
    await ctx.stdout.write(
      JSON.stringify({ removed: removed.name, was_active: wasActive }) + "\n",
    );
    return;
  }
  await ctx.stdout.write(`workspace "${removed.name}" removed locally\n`);
  if (wasActive) {
    await ctx.stderr.write(
      'no workspace is active now: choose one with "cmdop connect workspace use <NAME>"\n',
    );
  }
}
