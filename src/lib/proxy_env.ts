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
