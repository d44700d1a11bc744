/** Says why the relay could not be reached: the underlying cause of a failed request, and what to do about it. */
import { isConnectError } from "../lib/connect_errors.ts";
import { PROXY_HINT, proxyFailure } from "../lib/proxy_env.ts";
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
  /fetch|connect|refused|reset|network|dns|tcp|tls|certificate|handshake|timed ?out|eof|broken ?pipe|lookup|address information|corrupt message|InvalidContentType|wrong version number/i;

/** Messages of a TLS certificate the client does not trust. */
const UNTRUSTED = /certificate|UnknownIssuer|x509|self.signed/i;

/** Messages of a TLS handshake answered in plain HTTP: an https:// URL for an http:// relay. */
const PLAIN_HTTP = /corrupt message|InvalidContentType|wrong version number|record overflow/i;

/** Messages of a host name that does not resolve. */
const NO_SUCH_HOST = /lookup|address information|name or service|name resolution|dns/i;

/** Messages of nothing listening at the address. */
const REFUSED = /refused/i;

/** The relay URL a failed call went to, and where that URL came from (`--server flag`, …). */
export interface RelayAddress {
  server: string;
  source?: string;
}

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
 * `cannot reach the relay at <URL> (<where the URL came from>): <reason>` with a hint fit
 * for the reason: an untrusted certificate, an https:// URL for a plain-HTTP relay, a
 * host name that does not resolve, nothing listening, a refusal by the configured HTTP
 * proxy (named, with its variable), or anything else.
 *
 * @example
 * ```ts
 * throw unreachableRelay(error, { server: "http://127.0.0.1:4780", source: "--server flag" });
 * // error: cannot reach the relay at http://127.0.0.1:4780 (--server flag): Connection refused
 * ```
 */
export function unreachableRelay(error: unknown, address?: RelayAddress): CliError {
  const reason = underlyingMessage(error);
  const where = address
    ? ` at ${address.server}${address.source ? ` (${address.source})` : ""}`
    : "";
  // The configured HTTP proxy failed, not the relay: say which proxy.
  const proxy = proxyFailure(reason, address?.server);
  if (proxy) {
    return new CliError(`cannot reach the relay${where}: ${proxy}`, {
      hint: PROXY_HINT,
      cause: error,
    });
  }
  return new CliError(`cannot reach the relay${where}: ${reason}`, {
    hint: unreachableHint(reason, address),
    cause: error,
  });
}

function unreachableHint(reason: string, address: RelayAddress | undefined): string {
  const from = address?.source ? ` (the URL came from the ${address.source})` : "";
  if (UNTRUSTED.test(reason)) {
    return "if a private CA signed the relay's certificate, set CMDOP_CA_FILE to that CA's PEM file";
  }
  const url = address ? safeUrl(address.server) : undefined;
  if (PLAIN_HTTP.test(reason)) {
    const plain = url ? ` (try ${address!.server.replace(/^https:/i, "http:")})` : "";
    return `the relay answered without TLS: it serves plain HTTP, so use an http:// URL${plain}`;
  }
  if (NO_SUCH_HOST.test(reason)) {
    const host = url ? `"${url.hostname}"` : "the relay's host name";
    return `${host} does not resolve: check the host name${from}`;
  }
  if (REFUSED.test(reason)) {
    const at = url ? ` on ${url.host}` : "";
    return `nothing is listening${at}: start the relay there (cmdop relay serve) or point at ` +
      `the right one${from || " with --server / CMDOP_SERVER"}`;
  }
  return from
    ? `check that the relay is running and reachable${from}`
    : "check --server / CMDOP_SERVER and that the relay is running";
}

/**
 * A relay URL that answered with a plain HTTP status instead of Connect (a 404 for a
 * URL with an extra path, a proxy's 502): names the URL and what was asked.
 *
 * @example
 * ```ts
 * throw notARelay("HTTP 404", { server: "http://relay/extra", source: "--server flag" });
 * ```
 */
export function notARelay(reason: string, address: RelayAddress, cause?: unknown): CliError {
  const from = address.source ? ` (${address.source})` : "";
  const notFound = /\b404\b/.test(reason);
  return new CliError(`the server at ${address.server}${from} answered ${reason}`, {
    hint: notFound
      ? "that URL is not a cmdop relay: give the relay's base URL, without a path " +
        "(e.g. https://relay.example.com), unless the relay is served under one"
      : `a proxy or another server may stand in front of the relay: check ${
        address.source ?? "--server / CMDOP_SERVER"
      }`,
    cause,
  });
}

function safeUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}
