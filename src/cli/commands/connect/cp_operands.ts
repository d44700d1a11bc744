/** parseCpOperands: which side of `cmdop connect cp` is remote (HOST:PATH, as scp decides it) and which way the copy goes. */
import { CliError } from "../../errors.ts";

/** A copy, either way: `local` is a path or `-` (stdin when sending, stdout when fetching). */
export interface CpPlan {
  direction: "send" | "fetch";
  local: string;
  /** The machine as written; "" for `:PATH`, which a share link supplies. */
  host: string;
  /** The remote path; "" means the agent's home folder, as scp reads `host:`. */
  remotePath: string;
}

/**
 * Splits the operands: an operand is remote when it holds a colon with no `/` before the first
 * one (scp's rule, so `./a:b` and `/x/a:b` are local), and exactly one side must be remote.
 * `-` is always local.
 *
 * @example
 * ```ts
 * parseCpOperands("./app.tgz", "web-1:/tmp/");
 * // { direction: "send", local: "./app.tgz", host: "web-1", remotePath: "/tmp/" }
 * ```
 */
export function parseCpOperands(source: string, destination: string): CpPlan {
  for (const operand of [source, destination]) {
    if (/^https?:\/\//.test(operand)) {
      throw new CliError(`"${operand.replace(/cms_\S*/, "cms_…")}" looks like a link`, {
        hint: "give a share link with --link-file FILE or CMDOP_SHARE_LINK, and write the " +
          "remote side as :PATH",
      });
    }
  }
  const from = remote(source);
  const to = remote(destination);
  if (from && to) {
    throw new CliError(`both "${source}" and "${destination}" are remote`, {
      hint: "one side must be a local path: copy through this machine in two steps",
    });
  }
  if (!from && !to) {
    throw new CliError(`neither "${source}" nor "${destination}" names a machine`, {
      hint: "write the remote side as HOST:PATH (or :PATH with a share link); " +
        "a local path with a colon is written ./a:b",
    });
  }
  if (to) return { direction: "send", local: source, host: to.host, remotePath: to.path };
  return { direction: "fetch", local: destination, host: from!.host, remotePath: from!.path };
}

function remote(operand: string): { host: string; path: string } | undefined {
  if (operand === "-") return undefined;
  const colon = operand.indexOf(":");
  if (colon < 0 || operand.slice(0, colon).includes("/")) return undefined;
  return { host: operand.slice(0, colon), path: operand.slice(colon + 1) };
}
