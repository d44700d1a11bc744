/** fetchTrustingCa, loadCaFetch: a fetch that trusts a private CA, apart from the Connect transports so that a CLI call loads no connect-es for it. */

/**
 * HTTP/1.1 even where the relay offers HTTP/2: Deno's HTTP/2 client keeps
 * small stream windows, and a bulk session over it ran at a third of the
 * speed (measured: 300 MB exec output, 35-40 MB/s on h2, 140 MB/s on
 * HTTP/1.1 with TLS). Deno streams request bodies full-duplex on HTTP/1.1.
 * Behind a TLS front end that is not the relay, sessions move to HTTP/2
 * (relay_http_client.ts): some front ends carry full duplex only there.
 */
export const HTTP1_ONLY = { http1: true, http2: false } as const;

/** A fetch that trusts extra CA certificates, which a socket-level client can trust as well. */
export type CaFetch = typeof globalThis.fetch & { caCerts?: string[] };

/**
 * A fetch that trusts the PEM CA certificates in `caPem` besides Deno's
 * default roots, for relays whose certificate a private CA signed.
 *
 * @example
 * ```ts
 * const fetch = fetchTrustingCa(await Deno.readTextFile("ca.pem"));
 * const transport = createRelayTransport({ baseUrl: "https://relay:4780", fetch });
 * ```
 */
export function fetchTrustingCa(caPem: string): typeof globalThis.fetch {
  // Made on first use: the CLI's own clients only read `caCerts` back (below).
  let client: Deno.HttpClient | undefined;
  const trusting: CaFetch = (input, init) =>
    fetch(input, {
      ...init,
      client: client ??= Deno.createHttpClient({ caCerts: [caPem], ...HTTP1_ONLY }),
    });
  // Relay transports read the certificates back to open sockets of their own.
  trusting.caCerts = [caPem];
  return trusting;
}

/**
 * Reads a CA file for {@linkcode fetchTrustingCa}; the error names the file
 * and the setting it came from.
 *
 * @example
 * ```ts
 * const fetch = await loadCaFetch("/etc/cmdop/ca.pem", "CMDOP_CA_FILE");
 * ```
 */
export async function loadCaFetch(path: string, source: string): Promise<typeof globalThis.fetch> {
  let pem: string;
  try {
    pem = await Deno.readTextFile(path);
  } catch (error) {
    throw new Error(`cannot read the CA file "${path}" (${source}): ${(error as Error).message}`);
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
    throw new Error(`the CA file "${path}" (${source}) holds no PEM certificate`);
  }
  return fetchTrustingCa(pem);
}
