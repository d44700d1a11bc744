/** `cmdop connect workspace use NAME`: make a workspace the active one. */
import { resolveHome } from "../../../config/paths.ts";
import { useWorkspace } from "../../../config/workspaces.ts";
import type { CliContext } from "../../context.ts";
import type { GlobalOptions } from "../../globals.ts";

/**
 * Sets the active workspace; an unknown name is an error listing the known ones.
 *
 * @example
 * ```ts
 * await runWorkspaceUse(ctx, globals, { name: "prod" });
 * ```
 */
export async function runWorkspaceUse(
  ctx: CliContext,
  globals: GlobalOptions,
  options: { name: string },
): Promise<void> {
  const workspace = await useWorkspace(resolveHome(ctx.env), options.name);
  if (globals.json) {
    await ctx.stdout.write(JSON.stringify({ active: workspace.name }) + "\n");
    return;
  }
  await ctx.stdout.write(`active workspace: "${workspace.name}"\n`);
}
