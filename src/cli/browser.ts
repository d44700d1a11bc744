/** openBrowser: show a URL in the user's browser, only where one can plausibly open (never in CI). */
import { join } from "node:path";

/** What deciding and opening needs; `env` is the context's. */
export interface BrowserEnvironment {
  env(name: string): string | undefined;
  os: typeof Deno.build.os;
}

/**
 * The command that would open a browser here, or `undefined`: none in CI, over SSH,
 * or on Linux without a display, and none when `xdg-open` / `open` is not on PATH.
 *
 * @example
 * ```ts
 * browserCommand({ env: ctx.env, os: Deno.build.os }); // "/usr/bin/xdg-open"
 * ```
 */
export function browserCommand(where: BrowserEnvironment): string | undefined {
  const { env, os } = where;
  if (env("CI") || env("SSH_CONNECTION") || env("SSH_TTY")) return undefined;
  let name: string;
  if (os === "darwin") name = "open";
  else if (os === "linux" || os === "freebsd" || os === "netbsd") {
    if (!env("DISPLAY") && !env("WAYLAND_DISPLAY")) return undefined;
    name = "xdg-open";
  } else return undefined;
  for (const dir of (env("PATH") ?? "").split(":")) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      if (Deno.statSync(candidate).isFile) return candidate;
    } catch {
      // Not in this folder.
    }
  }
  return undefined;
}

/**
 * Opens `url` without waiting for the browser; `false` when no browser can be opened
 * here (the caller has printed the URL anyway).
 *
 * @example
 * ```ts
 * if (await openBrowser({ env: ctx.env, os: Deno.build.os }, url)) await ctx.stderr.write("opened your browser\n");
 * ```
 */
export function openBrowser(where: BrowserEnvironment, url: string): boolean {
  const command = browserCommand(where);
  if (!command) return false;
  try {
    const child = new Deno.Command(command, {
      args: [url],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    child.unref();
    child.status.catch(() => {});
    return true;
  } catch {
    return false;
  }
}
