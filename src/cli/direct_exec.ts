/** parseDirectExec: the plain forms of `cmdop connect exec` read without commander, so exec starts without loading the command tree. */
import type { ExecOptions } from "./commands/connect/exec.ts";
import { type GlobalOptions, toGlobalOptions } from "./globals.ts";

/** What `cmdop connect exec …` asks for, as the command tree's action would pass it on. */
export interface DirectExec {
  globals: GlobalOptions;
  options: ExecOptions;
}

/** Options that take a value, by every spelling, and the key commander stores them under. */
const VALUED: Record<string, "apiKey" | "server" | "workspace" | "timeout"> = {
  "-k": "apiKey",
  "--api-key": "apiKey",
  "-s": "server",
  "--server": "server",
  "--workspace": "workspace",
  "--timeout": "timeout",
};

/**
 * Reads `connect exec HOST [CMD…] [options] [-- CMD…]` with the global flags
 * of the spec page, exactly as the commander tree would; `undefined` for
 * anything else (help, unknown or bundled flags, values that look like flags,
 * a missing command), which then goes through commander, whose messages and
 * exit codes stay the only ones. Loading commander costs ~16 ms of every call.
 *
 * @example
 * ```ts
 * parseDirectExec(["connect", "exec", "web", "--json", "--", "uptime"]);
 * // { globals: { json: true, interactive: false, … }, options: { host: "web", argv: ["uptime"], timeout: "30" } }
 * ```
 */
export function parseDirectExec(argv: readonly string[]): DirectExec | undefined {
  if (argv[0] !== "connect" || argv[1] !== "exec") return undefined;
  const opts: Record<string, unknown> = { interactive: true };
  let timeout = "30";
  const operands: string[] = [];
  let i = 2;
  for (; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") break;
    if (!arg.startsWith("-") || arg === "-") {
      operands.push(arg);
      continue;
    }
    if (arg === "--json") opts.json = true;
    else if (arg === "-q" || arg === "--no-interactive") opts.interactive = false;
    else {
      const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
      const name = eq > 0 ? arg.slice(0, eq) : arg;
      const key = VALUED[name];
      if (!key) return undefined;
      const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      // A value that looks like a flag, or none at all: commander decides what that means.
      if (value === undefined || (eq < 0 && value.startsWith("-"))) return undefined;
      if (key === "timeout") timeout = value;
      else opts[key] = value;
    }
  }
  const command = [...operands.slice(1), ...argv.slice(i + 1)];
  if (operands.length === 0 || command.length === 0) return undefined;
  return {
    globals: toGlobalOptions(opts),
    options: { host: operands[0], argv: command, timeout },
  };
}
