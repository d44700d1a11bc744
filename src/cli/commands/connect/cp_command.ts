/** `cmdop connect cp`: its flags and help; the work is in cp.ts, loaded when the verb runs. */
import type { Command } from "@commander-js/extra-typings";
import type { CliContext } from "../../context.ts";
import type { RunState } from "../../globals.ts";
import { globalsOf } from "../../command_options.ts";

/** Registers `cmdop connect cp SOURCE DESTINATION`. */
export function registerCpCommand(
  connect: Command<unknown[], Record<string, unknown>>,
  ctx: CliContext,
  state: RunState,
): void {
  connect.command("cp")
    .description("Copy files to or from a machine (sha256 checked, mode bits kept)")
    .usage(
      "[options] <local> <host>:<remote>\n       cmdop connect cp [options] <host>:<remote> <local>",
    )
    .argument("<source>", "a local path, - for stdin, or HOST:PATH")
    .argument("<destination>", "a local path, - for stdout, or HOST:PATH")
    .option("-r, --recursive", "copy directories with everything below them")
    .option("--link-file <file>", "a file holding a share link: write the remote side as :PATH")
    .addHelpText(
      "after",
      `
Exactly one side is remote: HOST:PATH, where HOST is a hostname, display name,
unique prefix or UUID (with a share link: :PATH). A relative remote PATH starts
in the agent's home folder. A path with a colon before any slash is remote:
write a local one as ./a:b.

Each file goes to a temporary name beside its destination and is renamed only
once its sha256 matches the sender's: an interrupted copy never leaves a partial
file under the final name. Symbolic links and special files inside a directory
are skipped and reported.

A terminal gets a progress line on stderr (bytes, rate, time left); none with
--json, -q or when stderr is not a terminal. --json prints one summary object.`,
    )
    .action(async (source, destination, opts, command) => {
      const { linkFile } = command.optsWithGlobals() as { linkFile?: string };
      const { runCp } = await import("./cp.ts");
      await runCp(ctx, globalsOf(command), state, {
        source,
        destination,
        recursive: opts.recursive === true,
        linkFile,
      });
    });
}
