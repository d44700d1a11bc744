/** `cmdop connect key clear`: forget the workspace's API key, keeping the workspace. */
import { clearApiKey } from "../../../config/api_keys.ts";
import type { CliContext } from "../../context.ts";
import type { GlobalOptions } from "../../globals.ts";

/**
 * Removes the key of `--workspace` or the active workspace; a workspace that had none
 * is not an error (the wanted state holds).
 *
 * @example
 * ```ts
 * await runKeyClear(ctx, globals);
 * ```
 */
export async function runKeyClear(ctx: CliContext, globals: GlobalOptions): Promise<void> {
  const { workspace, cleared } = await clearApiKey(ctx.home(), globals.workspace);
  if (globals.json) {
    await ctx.stdout.write(JSON.stringify({ workspace, cleared }) + "\n");
    return;
  }
  await ctx.stdout.write(
    cleared
      ? `API key of workspace "${workspace}" removed\n`
      : `workspace "${workspace}" had no API key\n`,
  );
}
