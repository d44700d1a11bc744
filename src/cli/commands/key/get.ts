/** `cmdop connect key get`: the workspace's API key, masked to its first and last 4 characters. */
import { getApiKey, maskKey } from "../../../config/api_keys.ts";
import type { CliContext } from "../../context.ts";
import { CliError } from "../../errors.ts";
import type { GlobalOptions } from "../../globals.ts";

/**
 * Prints the masked key of `--workspace` or the active workspace; a workspace without
 * a key is an error (exit 1) so scripts can test for one.
 *
 * @example
 * ```ts
 * await runKeyGet(ctx, globals); // cmk_****Wx9Q
 * ```
 */
export async function runKeyGet(ctx: CliContext, globals: GlobalOptions): Promise<void> {
  const { workspace, apiKey } = await getApiKey(ctx.home(), globals.workspace);
  if (!apiKey) {
    throw new CliError(`workspace "${workspace}" has no API key`, {
      hint: `store one with: cmdop connect key set <KEY> --workspace ${workspace}`,
    });
  }
  if (globals.json) {
    await ctx.stdout.write(JSON.stringify({ workspace, api_key: maskKey(apiKey) }) + "\n");
    return;
  }
  await ctx.stdout.write(`${maskKey(apiKey)}\n`);
}
