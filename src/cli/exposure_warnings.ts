/** Warnings before a credential leaves in a way others can read: on the command line, or to a plain-http relay off this machine. */
import type { CliContext } from "./context.ts";
import type { RunState } from "./globals.ts";

/** What the command line says to every local user: `ps` and `/proc/PID/cmdline` show it. */
export const ARGV_EXPOSURE = "can be read by any local user (ps, /proc/PID/cmdline)";

/**
 * True for a relay URL whose host is this machine (127.0.0.0/8, ::1, localhost), where
 * plain http never crosses a network.
 *
 * @example
 * ```ts
 * isLoopbackUrl("http://127.0.0.1:4780"); // true
 * isLoopbackUrl("http://relay.example.com"); // false
 * ```
 */
export function isLoopbackUrl(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase();
  } catch {
    return false;
  }
  return host === "localhost" || host === "[::1]" || host === "::1" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * Warns, once per run, when the credential is about to go to an `http://` relay that
 * is not on this machine, or came from `--api-key` on the command line.
 *
 * @example
 * ```ts
 * await warnCredentialExposure(ctx, state, { server, credentialSource: "--api-key flag" });
 * ```
 */
export async function warnCredentialExposure(
  ctx: CliContext,
  state: RunState,
  access: { server: string; credentialSource: string },
): Promise<void> {
  const warned = state.warned ??= new Set();
  const warn = async (key: string, message: string) => {
    if (warned.has(key)) return;
    warned.add(key);
    await ctx.stderr.write(`warning: ${message}\n`);
  };
  if (access.credentialSource === "--api-key flag") {
    await warn(
      "argv",
      `an API key given with --api-key ${ARGV_EXPOSURE}; ` +
        "set CMDOP_API_KEY or store it with: cmdop connect key set < key.txt",
    );
  }
  if (access.server.startsWith("http://") && !isLoopbackUrl(access.server)) {
    await warn(
      "http",
      `sending a credential (${access.credentialSource}) to ${access.server} over plain http: ` +
        "anyone on the network path can read it; use an https:// relay",
    );
  }
}
