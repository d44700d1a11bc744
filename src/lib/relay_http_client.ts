/** The HTTP client of relay calls: cmdop's own HTTP/1.1 sockets, or HTTP/2 once a TLS front end that is not the relay shows up. */
import type { UniversalClientFn, UniversalClientRequest } from "@connectrpc/connect/protocol";
import { createHttp1Client } from "./http1_client.ts";

/**
 * The response header with which a relay says it terminated TLS itself; its absence on an
 * `https://` answer means a proxy did.
 */
export const RELAY_TLS_HEADER = "cmdop-tls";

/**
 * A Connect HTTP client that starts on HTTP/1.1 over its own sockets (TCP_NODELAY; a relay
 * with TLS of its own is reached that way, the faster of the two here) and moves every later
 * call to HTTP/2 — through `fetch`, whose ALPN offers `h2` — once an `https://` answer comes
 * without {@linkcode RELAY_TLS_HEADER}: a front end terminated TLS, and some (Caddy) do not
 * carry a request and a response body at once over HTTP/1.1, which cmdop's sessions need.
 * The first call of a CLI run or of an agent connection is unary or server-streaming
 * (`ListMachines`, `Control`), which every proxy carries, so the sessions after it already
 * use the right version.
 *
 * @example
 * ```ts
 * const httpClient = createRelayHttpClient({ caCerts });
 * const transport = createTransport({ httpClient, baseUrl, … });
 * ```
 */
export function createRelayHttpClient(options: { caCerts?: string[] } = {}): UniversalClientFn {
  const http1 = createHttp1Client({ caCerts: options.caCerts });
  let http2: UniversalClientFn | undefined;
  // Decided per relay: an agent may know one direct and one behind a proxy.
  const fronted = new Set<string>();
  return async (req: UniversalClientRequest) => {
    const origin = new URL(req.url).origin;
    if (http2 && fronted.has(origin)) return await http2(req);
    const response = await http1(req);
    if (origin.startsWith("https:") && !response.header.has(RELAY_TLS_HEADER)) {
      fronted.add(origin);
      const client = Deno.createHttpClient({ caCerts: options.caCerts, http1: true, http2: true });
      // Loaded here, not at the top: connect-es's protocol module brings protobuf-es's
      // registry with it, ~10 ms of every exec's start-up (measured with --cpu-prof).
      const { createFetchClient } = await import("@connectrpc/connect/protocol");
      http2 ??= createFetchClient((input, init) => fetch(input, { ...init, client }));
    }
    return response;
  };
}
