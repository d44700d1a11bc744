/** parseForwardSpec: `[bind:]localport:remotehost:remoteport`, as `ssh -L` writes it. */
import { CliError } from "../../errors.ts";

/** What a forward listens on and where the machine connects. */
export interface ForwardSpec {
  /** Local address to listen on. */
  bind: string;
  /** Local port; 0 picks a free one. */
  localPort: number;
  remoteHost: string;
  remotePort: number;
}

/** Where a forward listens unless told otherwise: only this computer's programs reach it. */
export const DEFAULT_BIND = "127.0.0.1";

const HINT = "write it as ssh -L does: 8080:127.0.0.1:80, or 0.0.0.0:8080:db.internal:5432; " +
  "an IPv6 address in brackets: 8080:[::1]:80";

/**
 * Reads a forward spec; an IPv6 address is written in brackets. `bindOption`
 * (`--bind`) applies when the spec names no bind address; both is an error.
 *
 * @example
 * ```ts
 * parseForwardSpec("5432:127.0.0.1:5432");
 * // { bind: "127.0.0.1", localPort: 5432, remoteHost: "127.0.0.1", remotePort: 5432 }
 * ```
 */
export function parseForwardSpec(spec: string, bindOption?: string): ForwardSpec {
  const parts = splitOutsideBrackets(spec);
  if (parts === undefined || (parts.length !== 3 && parts.length !== 4)) {
    throw new CliError(`"${spec}" is not a forward spec`, { hint: HINT });
  }
  const [bindPart, local, host, remote] = parts.length === 4
    ? parts
    : [undefined, parts[0], parts[1], parts[2]];
  if (bindPart !== undefined && bindOption !== undefined) {
    throw new CliError(`"${spec}" names a bind address and --bind names another`, {
      hint: "give one of them",
    });
  }
  const bind = unbracket(bindPart ?? bindOption ?? DEFAULT_BIND);
  const remoteHost = unbracket(host);
  if (!bind) throw new CliError(`"${spec}": the bind address is empty`, { hint: HINT });
  if (!remoteHost) throw new CliError(`"${spec}": the remote host is empty`, { hint: HINT });
  if (remoteHost.length > 253 || /[\s/]/.test(remoteHost)) {
    throw new CliError(`"${spec}": "${remoteHost}" is not a host name or address`, { hint: HINT });
  }
  return {
    bind,
    localPort: port(local, spec, "local", 0),
    remoteHost,
    remotePort: port(remote, spec, "remote", 1),
  };
}

/** Splits at colons outside `[…]`; undefined when a bracket is left open or closed twice. */
function splitOutsideBrackets(text: string): string[] | undefined {
  const parts: string[] = [];
  let current = "";
  let depth = 0;
  for (const c of text) {
    if (c === "[") depth++;
    else if (c === "]") depth--;
    if (depth < 0 || depth > 1) return undefined;
    if (c === ":" && depth === 0) {
      parts.push(current);
      current = "";
    } else current += c;
  }
  if (depth !== 0) return undefined;
  parts.push(current);
  return parts;
}

function unbracket(text: string): string {
  return text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
}

function port(text: string, spec: string, which: string, min: number): number {
  const value = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(value >= min && value <= 65_535)) {
    throw new CliError(
      `"${spec}": the ${which} port "${text}" is not a number from ${min} to 65535`,
      { hint: HINT },
    );
  }
  return value;
}

/** True for addresses only this computer reaches (127.0.0.0/8, ::1, localhost). */
export function isLoopback(address: string): boolean {
  return /^127\./.test(address) || address === "::1" || address === "localhost";
}
