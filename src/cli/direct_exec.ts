/** parseDirectExec: the plain forms of `cmdop connect exec` read without commander, so exec starts without loading the command tree. */
import type { ExecOptions } from "./commands/connect/exec.ts";
import { type GlobalOptions, toGlobalOptions } from "./globals.ts";

/** What `cmdop connect exec …` asks for, as the command tree's action would pass it on. */
export interface DirectExec {
  globals: GlobalOptions;
  options: ExecOptions;
}

/** Options that take a value, by every spelling, and the key commander stores them under. */
const VALUED: Record<string, "apiKey" | "server" | "workspace" | "timeout" | "linkFile"> = {
  "-k": "apiKey",
  "--api-key": "apiKey",
  "-s": "server",
  "--server": "server",
  "--workspace": "workspace",
  "--timeout": "timeout",
  "--link-file": "linkFile",
};

/**
 * Reads `connect exec [HOST] [CMD…] [options] [-- CMD…]` with the global flags
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
  let linkFile: string | undefined;
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
      else if (key === "linkFile") linkFile = value;
      else opts[key] = value;
    }
  }
  const { host, argv: command } = execOperands(operands, argv.slice(i + 1));
  if (command.length === 0) return undefined;
  return {
    globals: toGlobalOptions(opts),
    options: { host, argv: command, timeout, shell, linkFile },
  };
}

/**
 * The host and the remote command from exec's words before and after `--`: the host is the
 * first word before it; with none there (`exec --link-file FILE -- uname`, or a link in
 * CMDOP_SHARE_LINK) every word is the command.
 *
 * @example
 * ```ts
 * execOperands(["web", "echo"], ["-n", "x"]); // { host: "web", argv: ["echo", "-n", "x"] }
 * execOperands([], ["uname"]); // { host: undefined, argv: ["uname"] }
 * ```
 */
export function execOperands(
  before: readonly string[],
  after: readonly string[],
): { host?: string; argv: string[] } {
  if (before.length === 0) return { host: undefined, argv: [...after] };
  return { host: before[0], argv: [...before.slice(1), ...after] };
}

/**
 * exec's operands as commander hands them (`[host]`, `[cmd...]`) split again where the
 * `--` of the raw command line was, which commander drops: see {@linkcode execOperands}.
 *
 * @example
 * ```ts
 * operandsOfCommander("uname", ["-a"], ["connect", "exec", "--", "uname", "-a"]);
 * // { host: undefined, argv: ["uname", "-a"] }
 * ```
 */
export function operandsOfCommander(
  host: string | undefined,
  cmd: readonly string[],
  rawArgs: readonly string[],
): { host?: string; argv: string[] } {
  const words = host === undefined ? [...cmd] : [host, ...cmd];
  const dash = rawArgs.indexOf("--");
  const afterCount = dash < 0 ? 0 : Math.min(words.length, rawArgs.length - dash - 1);
  return execOperands(
    words.slice(0, words.length - afterCount),
    words.slice(words.length - afterCount),
  );
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
