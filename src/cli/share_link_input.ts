/** readSuppliedLink: a share link from --link-file FILE or CMDOP_SHARE_LINK, the ways that keep it off the command line. */
import type { CliContext } from "./context.ts";
import { CliError } from "./errors.ts";
import { parseShareLink, type ShareLink, type SuppliedLink } from "./target.ts";

/** The variable holding a share link when no machine is named. */
export const SHARE_LINK_VARIABLE = "CMDOP_SHARE_LINK";

const LINK_SHAPE = "https://relay.example/s/cms_…";

/**
 * The share link to use when the command names no machine: the one in `linkFile`, else the
 * one in `CMDOP_SHARE_LINK`; `undefined` when there is neither, or when `host` names a
 * machine (a name on the command line wins over the environment, as flags do). A host
 * together with `--link-file` is an error, as is a file or variable that holds no share
 * link (exit 1; the content is never echoed, it may be some other secret).
 *
 * @example
 * ```ts
 * const supplied = await readSuppliedLink(ctx, undefined, "link.txt");
 * await resolveTarget(ctx, globals, state, supplied ?? host);
 * ```
 */
export async function readSuppliedLink(
  ctx: CliContext,
  host: string | undefined,
  linkFile: string | undefined,
): Promise<SuppliedLink | undefined> {
  if (linkFile !== undefined) {
    if (host !== undefined) {
      throw new CliError(`give a machine or --link-file, not both (machine "${host}" was given)`, {
        hint: "with --link-file, leave the machine out and put the command after --: " +
          "cmdop connect exec --link-file FILE -- CMD",
      });
    }
    const source = `--link-file "${linkFile}"`;
    return { link: linkIn(await readLinkFile(linkFile, source), source), source };
  }
  if (host !== undefined) return undefined;
  const value = ctx.env(SHARE_LINK_VARIABLE)?.trim();
  if (!value) return undefined;
  return { link: linkIn(value, SHARE_LINK_VARIABLE), source: SHARE_LINK_VARIABLE };
}

async function readLinkFile(path: string, source: string): Promise<string> {
  if (path === "-") {
    throw new CliError(`${source}: a share link cannot be read from stdin here`, {
      hint: "stdin carries the remote command's input; write the link into a file only you " +
        `can read, or set ${SHARE_LINK_VARIABLE}`,
    });
  }
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "no such file"
      : error instanceof Deno.errors.IsADirectory
      ? "it is a folder"
      : (error as Error).message;
    throw new CliError(`cannot read ${source}: ${reason}`, {
      hint: `put the share link (${LINK_SHAPE}) in that file, or set ${SHARE_LINK_VARIABLE}`,
      cause: error,
    });
  }
  const link = text.trim();
  if (link === "") {
    throw new CliError(`${source} is empty`, {
      hint: `it should hold one line: ${LINK_SHAPE}`,
    });
  }
  return link;
}

/** The share link in `text`, which came from `source`; an error naming `source` for anything else. */
function linkIn(text: string, source: string): ShareLink {
  let link: ShareLink | undefined;
  try {
    link = /\s/.test(text) ? undefined : parseShareLink(text);
  } catch {
    link = undefined;
  }
  if (!link) {
    throw new CliError(`${source} does not hold a share link`, {
      hint: `it should hold one line: ${LINK_SHAPE}`,
    });
  }
  return link;
}
