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
 * // { globals: { json: true, interactive: false, … }, options: { host: "web", argv: ["uptime"], timeout: "30", shell: false } }
 * ```
 */
export function parseDirectExec(argv: readonly string[]): DirectExec | undefined {
  if (argv[0] !== "connect" || argv[1] !== "exec") return undefined;
  const opts: Record<string, unknown> = { interactive: true };
  let timeout = "30";
  let shell = false;
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
    else if (arg === "--shell") shell = true;
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
    options: { host: operands[0], argv: command, timeout, shell },
  };
}

/**
 * `cmdop connect exec HOST uname -a` with `--` put where the remote command starts
 * (after the host and cmdop's own flags), for the hint of an option commander does
 * not know; `undefined` when the line has a `--` already or no host.
 *
 * @example
 * ```ts
 * withDoubleDash(["connect", "exec", "web", "--json", "uname", "-a"]);
 * // "cmdop connect exec web --json -- uname -a"
 * ```
 */
export function withDoubleDash(argv: readonly string[]): string | undefined {
  if (argv[0] !== "connect" || argv[1] !== "exec" || argv.includes("--")) return undefined;
  let host: number | undefined;
  for (let i = 2; i < argv.length; i++) {
    const arg = argv[i];
    const name = arg.startsWith("--") && arg.includes("=") ? arg.slice(0, arg.indexOf("=")) : arg;
    if (VALUED[name]) {
      if (name === arg) i++;
      continue;
    }
    if (["--json", "-q", "--no-interactive", "--shell"].includes(arg)) continue;
    if (host === undefined && !arg.startsWith("-")) {
      host = i;
      continue;
    }
    if (host === undefined) return undefined;
    const words = [...argv.slice(0, i), "--", ...argv.slice(i)];
    return ["cmdop", ...words.map(shellQuote)].join(" ");
  }
  return undefined;
}

function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}
