/** The Connect transport every cmdop client (CLI and agent) talks to the relay with. */
import type { Interceptor, Transport } from "@connectrpc/connect";
import { createFetchClient, type UniversalClientFn } from "@connectrpc/connect/protocol";
import { createTransport } from "@connectrpc/connect/protocol-connect";
import { createRelayHttpClient } from "./relay_http_client.ts";
import { proxyConfigured } from "./proxy_env.ts";
import { MAX_MESSAGE_BYTES } from "./wire/envelopes.ts";
import { type CaFetch, HTTP1_ONLY } from "./ca_fetch.ts";

/** Options of {@linkcode createRelayTransport}. */
export interface RelayTransportOptions {
  /** The relay's base URL, e.g. `http://127.0.0.1:4780`. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer …` on every call. */
  bearer?: string;
  /** Extra headers on every call (e.g. the workspace a login token acts in). */
  headers?: Record<string, string>;
  /** A fetch with custom TLS trust, when a private CA is configured. */
  fetch?: typeof globalThis.fetch;
  /** Run inside the header interceptor (e.g. to refresh a login token and retry). */
  interceptors?: Interceptor[];
  /**
   * The HTTP client to call through ({@linkcode relayHttpClient} of these options unless given):
   * calls that must learn the same things about the relay's front end share one.
   */
  httpClient?: UniversalClientFn;
}

/**
 * A Connect transport over `fetch` that can stream request bodies, so one
 * transport serves unary, server-streaming and bidirectional calls.
 *
 * @example
 * ```ts
 * const transport = createRelayTransport({ baseUrl: "http://127.0.0.1:4780", bearer: key });
 * const client = createClient(MachineService, transport);
 * ```
 */
export function createRelayTransport(options: RelayTransportOptions): Transport {
  const interceptors: Interceptor[] = [];
  const headers = { ...options.headers };
  if (options.bearer) headers["authorization"] = `Bearer ${options.bearer}`;
  if (Object.keys(headers).length > 0) {
    interceptors.push((next) => (req) => {
      for (const [name, value] of Object.entries(headers)) req.header.set(name, value);
      return next(req);
    });
  }
  return createTransport({
    httpClient: options.httpClient ?? relayHttpClient(options),
    baseUrl: options.baseUrl.replace(/\/+$/, ""),
    useBinaryFormat: true,
    interceptors: [...interceptors, ...(options.interceptors ?? [])],
    acceptCompression: [],
    sendCompression: null,
    compressMinBytes: 1024,
    // What a client takes from the relay, as the lean stack does (envelopes.ts).
    readMaxBytes: MAX_MESSAGE_BYTES,
    writeMaxBytes: 0xffffffff,
  });
}

let sharedHttp1Fetch: typeof globalThis.fetch | undefined;
let sharedHttp1Client: UniversalClientFn | undefined;

/**
 * Sockets with TCP_NODELAY (`createHttp1Client`) unless a proxy is configured,
 * which only fetch honours, or a caller brought its own fetch. Deno's fetch
 * leaves Nagle's algorithm on: a frame sent while the previous one waits for
 * its ACK sat ~40 ms behind the relay's delayed ACK (measured: exec `true`
 * 53 ms in a warm process over fetch, under 10 ms over these sockets).
 *
 * @example
 * ```ts
 * const httpClient = relayHttpClient({ baseUrl });
 * const transport = createRelayTransport({ baseUrl, httpClient });
 * ```
 */
export function relayHttpClient(
  options: Pick<RelayTransportOptions, "baseUrl" | "fetch">,
): UniversalClientFn {
  const caCerts = (options.fetch as CaFetch | undefined)?.caCerts;
  if (options.fetch && !caCerts) return createFetchClient(options.fetch);
  if (proxyConfigured()) {
    const https = /^https:/i.test(options.baseUrl);
    return createFetchClient(options.fetch ?? (https ? http1Fetch() : globalThis.fetch));
  }
  if (caCerts) return createRelayHttpClient({ caCerts });
  return sharedHttp1Client ??= createRelayHttpClient();
}

function http1Fetch(): typeof globalThis.fetch {
  if (!sharedHttp1Fetch) {
    const client = Deno.createHttpClient(HTTP1_ONLY);
    sharedHttp1Fetch = (input, init) => fetch(input, { ...init, client });
  }
  return sharedHttp1Fetch;
}
