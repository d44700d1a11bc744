/** `cmdop completions bash|zsh|fish`: prints a shell completion script for the whole command tree. */
import type { Command } from "@commander-js/extra-typings";
import { completionScript, type Shell, SHELLS } from "../completions/scripts.ts";
import { completionTree } from "../completions/tree.ts";
import type { CliContext } from "../context.ts";
import { CliError } from "../errors.ts";

/** Writes the script for `shell` to stdout. */
export async function runCompletions(
  ctx: CliContext,
  program: Command,
  shell: string,
): Promise<void> {
  if (!(SHELLS as readonly string[]).includes(shell)) {
    throw new CliError(`no completions for shell "${shell}"`, {
      hint: `choose one of: ${SHELLS.join(", ")}`,
    });
  }
  await ctx.stdout.write(completionScript(shell as Shell, completionTree(program)));
}
