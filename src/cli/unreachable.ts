/** Says why the relay could not be reached: the underlying cause of a failed request, and what to do about it. */
import { isConnectError } from "../lib/connect_errors.ts";
import { CliError } from "./errors.ts";

/** Causes are followed this deep at most, so a cyclic chain cannot hang the error path. */
const MAX_DEPTH = 8;

/** Wrappers the HTTP stack puts around the reason; they name the URL, not the problem. */
const WRAPPERS = [
  /^error sending request (?:from \S+ )?for url \([^)]*\): /i,
  /^client error \([^)]*\): /i,
];

/** Messages of a failure to reach a server at all (as opposed to an answer it gave). */
const NETWORK =
  /fetch|connect|refused|reset|network|dns|tcp|tls|certificate|handshake|timed ?out|eof|broken ?pipe/i;

/** Messages of a TLS certificate the client does not trust. */
const UNTRUSTED = /certificate|UnknownIssuer|x509|self.signed/i;

/**
 * The most specific message in an error's `cause` chain, without the HTTP stack's
 * wrappers: `fetch failed` becomes `invalid peer certificate: UnknownIssuer`.
 *
 * @example
 * ```ts
 * underlyingMessage(new TypeError("fetch failed", { cause: new Error("tcp connect error") }));
 * // "tcp connect error"
 * ```
 */
export function underlyingMessage(error: unknown): string {
  let message = "";
  const seen = new Set<unknown>();
  for (let e = error, depth = 0; e && !seen.has(e) && depth < MAX_DEPTH; depth++) {
    seen.add(e);
    // A ConnectError's message carries its code ("[unknown] …"); the raw one is the reason.
    const text = isConnectError(e)
      ? e.rawMessage
      : e instanceof Error
      ? e.message
      : typeof e === "string"
      ? e
      : "";
    if (text) message = text;
    e = e instanceof Error ? e.cause : undefined;
  }
  for (const wrapper of WRAPPERS) message = message.replace(wrapper, "");
  return message || String(error);
}

/**
 * True when the chain says the request never got an answer: a network or TLS failure
 * raised on this side, not an error the relay sent back.
 *
 * @example
 * ```ts
 * if (isUnreachable(error)) throw unreachableRelay(error);
 * ```
 */
export function isUnreachable(error: unknown): boolean {
  const seen = new Set<unknown>();
  for (let e = error, depth = 0; e && !seen.has(e) && depth < MAX_DEPTH; depth++) {
    seen.add(e);
    if (!(e instanceof Error)) return false;
    // Deno names its socket errors by kind ("ConnectionRefused"); a ConnectError's name says nothing.
    const name = isConnectError(e) ? "" : e.name;
    const message = isConnectError(e) ? e.rawMessage : e.message;
    if (NETWORK.test(message) || NETWORK.test(name)) return true;
    e = e.cause;
  }
  return false;
}

/**
 * `cannot reach the relay: <reason>` with a hint fit for the reason: for an untrusted
 * certificate, `CMDOP_CA_FILE`; otherwise the server setting.
 *
 * @example
 * ```ts
 * throw unreachableRelay(error); // error: cannot reach the relay: invalid peer certificate: UnknownIssuer
 * ```
 */
export function unreachableRelay(error: unknown): CliError {
  const reason = underlyingMessage(error);
  const hint = UNTRUSTED.test(reason)
    ? "if a private CA signed the relay's certificate, set CMDOP_CA_FILE to that CA's PEM file"
    : "check --server / CMDOP_SERVER and that the relay is running";
  return new CliError(`cannot reach the relay: ${reason}`, { hint, cause: error });
}
