/** What `exec --label` / `--all` may be combined with, checked before anything is loaded or dialled. */
import type { CliContext } from "../../context.ts";
import { CliError } from "../../errors.ts";

/** Machines run at once unless `--parallel` says otherwise. */
export const DEFAULT_PARALLEL = 16;

/** The part of `exec --help` about running on many machines. */
export const EXEC_MANY_HELP = `
On many machines:
  cmdop connect exec --label role=web [--label env=prod] -- CMD
  cmdop connect exec --all -- CMD
  Runs on every online machine of the workspace whose labels match (all given must),
  --parallel at a time, --timeout per machine. Each output line is marked with its
  machine ("web-1 | …"; stderr lines go to stderr), or --group prints each machine's
  output in one block; a summary follows on stderr. Offline matches are reported.
  With --json: one line per machine, the exec envelope plus "machine".
  Exit 0 when every machine ran the command with status 0; 5 when any failed, timed
  out or was offline; 1 when nothing matched. A share link reaches one machine only:
  it cannot be used with --label or --all.`;

/**
 * Refuses what cannot go with `--label` / `--all`: a host (the labels choose the machines)
 * and a share link from any source (it reaches one machine, never a fleet).
 *
 * @example
 * ```ts
 * checkFanOut(ctx, { host: undefined, linkFile: undefined }); // passes
 * ```
 */
export function checkFanOut(
  ctx: CliContext,
  options: { host?: string; linkFile?: string },
): void {
  const link = options.linkFile !== undefined
    ? `--link-file "${options.linkFile}"`
    : ctx.env("CMDOP_SHARE_LINK")
    ? "CMDOP_SHARE_LINK"
    : options.host && /^https?:\/\/\S*\/s\/cms_/i.test(options.host)
    ? "the share link given"
    : undefined;
  if (link) {
    throw new CliError(
      `a share link reaches one machine: ${link} cannot be used with --label or --all`,
      { hint: "run on the link's machine without --label/--all, or use your workspace's key" },
    );
  }
  if (options.host !== undefined) {
    throw new CliError(
      `--label and --all choose the machines: "${options.host}" cannot be given as well`,
      { hint: "put the command after --: cmdop connect exec --label role=web -- CMD" },
    );
  }
}
