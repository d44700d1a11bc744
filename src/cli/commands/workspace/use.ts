/** `cmdop connect workspace use NAME`: make a workspace the active one. */
import { useWorkspace } from "../../../config/workspaces.ts";
import type { CliContext } from "../../context.ts";
import type { GlobalOptions } from "../../globals.ts";
import { normaliseServer } from "../../access.ts";

/**
 * Sets the active workspace; an unknown name is an error listing the known ones.
 * With `--server URL` it also stores that relay as the workspace's server (creating
 * the workspace when it is new), so later commands need neither flag nor variable.
 *
 * @example
 * ```ts
 * await runWorkspaceUse(ctx, globals, { name: "prod" });
 * await runWorkspaceUse(ctx, { ...globals, server: "https://relay.example" }, { name: "prod" });
 * ```
 */
export async function runWorkspaceUse(
  ctx: CliContext,
  globals: GlobalOptions,
  options: { name: string },
): Promise<void> {
  const server = globals.server?.trim() ? normaliseServer(globals.server.trim()) : undefined;
  const workspace = await useWorkspace(ctx.home(), options.name, server);
  if (globals.json) {
    const set = server ? { server: workspace.server, created: workspace.created } : {};
    await ctx.stdout.write(JSON.stringify({ active: workspace.name, ...set }) + "\n");
    return;
  }
  const note = workspace.created ? " (new workspace)" : "";
  const at = workspace.server ? `, server ${workspace.server}` : "";
  await ctx.stdout.write(`active workspace: "${workspace.name}"${note}${at}\n`);
}
