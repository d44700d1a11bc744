/** The Connect transport every cmdop client (CLI and agent) talks to the relay with. */
import type { Interceptor, Transport } from "@connectrpc/connect";
import { createFetchClient } from "@connectrpc/connect/protocol";
import { createTransport } from "@connectrpc/connect/protocol-connect";

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
    httpClient: createFetchClient(options.fetch ?? globalThis.fetch),
    baseUrl: options.baseUrl.replace(/\/+$/, ""),
    useBinaryFormat: true,
    interceptors,
    acceptCompression: [],
    sendCompression: null,
    compressMinBytes: 1024,
    readMaxBytes: 0xffffffff,
    writeMaxBytes: 0xffffffff,
  });
}
