/** warnLooseFiles: a warning on stderr for each secret file in CMDOP_HOME that others can read. */
import type { CliContext } from "./context.ts";

/**
 * Warns, without stopping, about each of cmdop's secret files that group or others
 * may read, naming the file, its mode and the fix.
 *
 * @example
 * ```ts
 * await warnLooseFiles(ctx); // warning: "/home/u/.cmdop/ssh_workspaces.json" is open to other users (mode 0644) …
 * ```
 */
export async function warnLooseFiles(ctx: CliContext): Promise<void> {
  let home: string;
  try {
    home = ctx.home();
  } catch {
    return; // No home at all: the command itself reports that.
  }
  const { looseSecretFiles } = await import("../config/file_modes.ts");
  for (const { path, mode } of await looseSecretFiles(home)) {
    await ctx.stderr.write(
      `warning: "${path}" is open to other users (mode 0${mode.toString(8)}) and holds ` +
        `secrets\nhint: chmod 600 "${path}" (cmdop also makes it 0600 the next time it writes it)\n`,
    );
  }
}
