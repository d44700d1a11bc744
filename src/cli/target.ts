/** resolveTarget: the machine a command acts on, named by host or reached through a share link. */
import type { Machine } from "../../gen/cmdop/v1/machine_pb.ts";
import type { CliContext } from "./context.ts";
import { CliError } from "./errors.ts";
import type { GlobalOptions, RunState } from "./globals.ts";
import { connectRelay, openRelayConnection, type RelayConnection } from "./relay_client.ts";
import { requireOnline, resolveMachine } from "./resolve_machine.ts";

/** A machine and the connection that reaches it. */
export interface Target {
  conn: RelayConnection;
  machine: Machine;
}

/** A share link that did not come through the command line, and where it came from (for errors). */
export interface SuppliedLink {
  link: ShareLink;
  /** `--link-file "PATH"` or `CMDOP_SHARE_LINK`. */
  source: string;
}

/**
 * Resolves `target` to one online machine: a share link read by `readSuppliedLink`, or
 * `hostOrLink` as typed on the command line. A share link (`https://relay/s/cms_…`)
 * carries its own relay and token, so no local credential is needed and the relay lets it
 * see its one machine only; typed as an argument it works, with a warning that the process
 * list shows it. Anything else is a hostname, display name, unique prefix or UUID in the
 * workspace of the resolved credential. Offline is exit 3 (unless `mustBeOnline` is
 * false), ambiguous exit 4, a refused link exit 2.
 *
 * @example
 * ```ts
 * const { conn, machine } = await resolveTarget(ctx, globals, state, options.host);
 * ```
 */
export async function resolveTarget(
  ctx: CliContext,
  globals: GlobalOptions,
  state: RunState,
  target: string | SuppliedLink,
  options: { mustBeOnline?: boolean } = {},
): Promise<Target> {
  const link = typeof target === "string" ? parseShareLink(target) : target.link;
  if (typeof target === "string" && link) await warnLinkInArgv(ctx);
  const conn = link
    ? await openRelayConnection(ctx, state, {
      server: link.server,
      serverSource: "share link",
      credential: link.token,
      credentialSource: "share link",
      kind: "share_link",
    })
    : await connectRelay(ctx, globals, state);
  const listed = await conn.machines.listMachines({}, { signal: ctx.signal });
  conn.relayWorkspace = { id: listed.workspaceId, name: listed.workspaceName };
  let machine: Machine;
  if (link) {
    if (listed.machines.length !== 1) {
      throw new CliError("the machine of this share link no longer exists", {
        hint: "ask whoever shared it for a new link",
      });
    }
    machine = listed.machines[0];
  } else {
    machine = resolveMachine(listed.machines, target as string);
  }
  if (options.mustBeOnline !== false) requireOnline(machine);
  return { conn, machine };
}

/** The one warning of a share link typed as an argument: every local user can read it there. */
async function warnLinkInArgv(ctx: CliContext): Promise<void> {
  const { ARGV_EXPOSURE } = await import("./exposure_warnings.ts");
  await ctx.stderr.write(
    `warning: a share link given as an argument ${ARGV_EXPOSURE}; ` +
      "use --link-file FILE or CMDOP_SHARE_LINK\n",
  );
}

/** The relay and token inside a share link. */
export interface ShareLink {
  server: string;
  token: string;
}

/**
 * Reads a share link, `<relay URL>/s/cms_<token>` (the relay may sit under a path);
 * `undefined` for anything else, which is then taken as a machine name.
 *
 * @example
 * ```ts
 * parseShareLink("https://relay.example/s/cms_abc"); // { server: "https://relay.example", token: "cms_abc" }
 * ```
 */
export function parseShareLink(text: string): ShareLink | undefined {
  if (!/^https?:\/\//i.test(text)) return undefined;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  const match = /^(.*)\/s\/(cms_[A-Za-z0-9_-]+)\/?$/.exec(url.pathname);
  if (!match) {
    throw new CliError(`"${text}" is not a share link`, {
      hint:
        "a share link looks like https://relay.example/s/cms_…; a machine is named without a URL",
    });
  }
  return { server: url.origin + match[1], token: match[2] };
}
