/** `cmdop connect key set [KEY]` (and the deprecated `set-key`): store an API key in a workspace. */
import { maskKey, setApiKey } from "../../../config/api_keys.ts";
import type { CliContext } from "../../context.ts";
import type { GlobalOptions } from "../../globals.ts";
import { normaliseServer } from "../../access.ts";
import { readSecret } from "../../read_secret.ts";

/** Options of {@linkcode runKeySet}. */
export interface KeySetOptions {
  /** The key; read from stdin or a hidden prompt when omitted (keeps it out of shell history). */
  key?: string;
  /** Called as `cmdop connect set-key`: works, with a deprecation notice. */
  legacy?: boolean;
}

/**
 * Stores the key in `--workspace` (created when new) or the active workspace; with no
 * workspace at all, in a new `default` one; with `-s URL`, that relay as the
 * workspace's server too. Prints the key masked, never whole.
 *
 * @example
 * ```ts
 * await runKeySet(ctx, globals, { key: "cmk_…" });
 * ```
 */
export async function runKeySet(
  ctx: CliContext,
  globals: GlobalOptions,
  options: KeySetOptions,
): Promise<void> {
  if (options.legacy) {
    await ctx.stderr.write(
      'warning: "cmdop connect set-key" is deprecated; use "cmdop connect key set <KEY>"\n',
    );
  }
  if (options.key !== undefined) {
    const { ARGV_EXPOSURE } = await import("../../exposure_warnings.ts");
    await ctx.stderr.write(
      `warning: a key given as an argument ${ARGV_EXPOSURE}; ` +
        "pipe it on stdin instead: cmdop connect key set < key.txt\n",
    );
  }
  const key = options.key ?? await readSecret(ctx, {
    prompt: "API key:",
    interactive: globals.interactive,
    what: "the API key",
    hint: "pass it as an argument or pipe it on stdin: cmdop connect key set < key.txt",
  });
  const home = ctx.home();
  // `-s URL` is kept with the key: the two belong to the same relay.
  const server = globals.server?.trim() ? normaliseServer(globals.server.trim()) : undefined;
  const { workspace, created } = await setApiKey(home, key, globals.workspace, server);
  const masked = maskKey(key.trim());
  if (globals.json) {
    await ctx.stdout.write(
      JSON.stringify({ workspace, created, api_key: masked, ...(server ? { server } : {}) }) + "\n",
    );
    return;
  }
  const note = created ? " (new workspace)" : "";
  const at = server ? `, server ${server}` : "";
  await ctx.stdout.write(`API key ${masked} stored in workspace "${workspace}"${note}${at}\n`);
}
