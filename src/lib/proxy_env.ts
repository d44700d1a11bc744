/** proxyConfigured: whether an HTTP proxy is set, which only fetch honours. */

const PROXY_VARIABLES = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY"];

/**
 * True when a proxy variable the process may read is set: relay calls then go
 * through fetch (which honours it) instead of cmdop's own sockets.
 *
 * @example
 * ```ts
 * const http = proxyConfigured() ? createFetchClient(fetch) : createHttp1Client();
 * ```
 */
export function proxyConfigured(): boolean {
  for (const name of PROXY_VARIABLES) {
    try {
      if (Deno.env.get(name)) return true;
    } catch {
      // Not permitted to read it: as good as unset.
    }
  }
  return false;
}

/** The proxy variable in effect for `scheme` (`https:`, `http:`, or `no:` for NO_PROXY) and its value. */
function proxyFor(scheme: string): { variable: string; url: string } | undefined {
  const names = scheme === "no:"
    ? ["NO_PROXY", "no_proxy"]
    : scheme === "http:"
    ? ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
    : ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"];
  for (const variable of names) {
    try {
      const url = Deno.env.get(variable);
      if (url) return { variable, url };
    } catch {
      // Not permitted to read it: as good as unset.
    }
  }
  return undefined;
}

/**
 * When a failure came from the configured HTTP proxy rather than the relay, says so,
 * naming the proxy and the variable that set it; `undefined` otherwise. Deno reports a
 * proxy's refusal of CONNECT only as "unsuccessful tunnel", and a proxy that is down as
 * a refused connection, both of which read as if the relay had failed.
 *
 * @example
 * ```ts
 * proxyFailure("unsuccessful tunnel", "https://relay.example.com");
 * // 'the proxy http://127.0.0.1:3128 (HTTPS_PROXY) refused to open a tunnel to relay.example.com:443'
 * ```
 */
export function proxyFailure(message: string, relayUrl?: string): string | undefined {
  let target: URL | undefined;
  try {
    target = relayUrl ? new URL(relayUrl) : undefined;
  } catch {
    target = undefined;
  }
  const proxy = proxyFor(target?.protocol ?? "https:") ??
    (target ? undefined : proxyFor("http:"));
  if (!proxy) return undefined;
  const name = `the proxy ${proxy.url} (${proxy.variable})`;
  const where = target
    ? ` to ${target.hostname}:${target.port || (target.protocol === "http:" ? 80 : 443)}`
    : "";
  if (/unsuccessful tunnel/i.test(message)) return `${name} refused to open a tunnel${where}`;
  // A refused connection is the proxy's only when the relay cannot be exempt from it.
  if (target && !proxyFor("no:") && /connection refused|tcp connect error/i.test(message)) {
    return `cannot connect to ${name}: ${message}`;
  }
  return undefined;
}

/**
 * What to do about a failure {@linkcode proxyFailure} described.
 *
 * @example
 * ```ts
 * const hint = PROXY_HINT;
 * ```
 */
export const PROXY_HINT = "check the proxy's access rules (squid's stock rules allow CONNECT " +
  "only to port 443: add the relay's port to its SSL_ports), or add the relay's host to NO_PROXY";
