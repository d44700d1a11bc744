/** A minimal Connect-protocol client (binary unary and streaming calls) that loads neither connect-es nor protobuf-es. */
import type { UniversalClientFn } from "@connectrpc/connect/protocol";
import { mapAsync } from "../map_async.ts";
import { joinPieces, splitEnvelopes, writeEnvelopeHead } from "./envelopes.ts";

/** Options of {@linkcode createConnectLite}. */
export interface ConnectLiteOptions {
  baseUrl: string;
  /** Sent on every call (authorization, the workspace a token acts in). */
  headers: Record<string, string>;
  httpClient: UniversalClientFn;
}

/** Unary and streaming calls on already-encoded messages. */
export interface ConnectLite {
  /** POSTs one encoded message to `path` (`/package.Service/Method`); resolves the encoded answer. */
  unary(path: string, message: Uint8Array, signal?: AbortSignal): Promise<Uint8Array>;
  /**
   * Streams enveloped messages (5 spare bytes in front of each, filled here)
   * and yields the encoded answers until the end-of-stream message.
   */
  stream(
    path: string,
    framed: AsyncIterable<Uint8Array>,
    signal?: AbortSignal,
  ): AsyncIterable<Uint8Array>;
}

/**
 * The Connect protocol as cmdop's CLI uses it on its hot path (exec): binary
 * messages, no compression, no deadline header. Success never touches the
 * Connect library; every failure is turned into the very ConnectError that
 * connect-es would raise, by connect-es's own functions, loaded then.
 *
 * @example
 * ```ts
 * const relay = createConnectLite({ baseUrl, headers: { authorization: `Bearer ${key}` }, httpClient });
 * const bytes = await relay.unary("/cmdop.v1.MachineService/ListMachines", request);
 * ```
 */
export function createConnectLite(options: ConnectLiteOptions): ConnectLite {
  const baseUrl = options.baseUrl.replace(/\/+$/, "");
  const headers = (contentType: string) => {
    const header = new Headers(options.headers);
    header.set("content-type", contentType);
    header.set("connect-protocol-version", "1");
    return header;
  };
  return {
    async unary(path, message, signal) {
      const call = linkedAbort(signal);
      try {
        const res = await options.httpClient({
          url: baseUrl + path,
          method: "POST",
          header: headers("application/proto"),
          body: (async function* () {
            yield message;
          })(),
          signal: call.signal,
        });
        const body = await joinPieces(res.body);
        if (res.status !== 200 || res.header.get("content-type") !== "application/proto") {
          const connect = await import("./connect_lite_errors.ts");
          throw await connect.unaryFailure(res.status, res.header, body);
        }
        return body;
      } catch (error) {
        throw await (await import("./connect_lite_errors.ts")).asConnectError(error, call.signal);
      } finally {
        call.done();
      }
    },
    stream(path, framed, signal) {
      return {
        async *[Symbol.asyncIterator]() {
          const call = linkedAbort(signal);
          try {
            const res = await options.httpClient({
              url: baseUrl + path,
              method: "POST",
              header: headers("application/connect+proto"),
              body: fillHeaders(framed),
              signal: call.signal,
            });
            const type = res.header.get("content-type");
            if (res.status !== 200 || type !== "application/connect+proto") {
              const connect = await import("./connect_lite_errors.ts");
              throw await connect.streamFailure(res.status, res.header);
            }
            let ended = false;
            for await (const { flags, data } of splitEnvelopes(res.body)) {
              if (ended || (flags & 2) === 0) {
                if (ended) throw await (await import("./connect_lite_errors.ts")).afterEnd();
                yield data;
                continue;
              }
              ended = true;
              const connect = await import("./connect_lite_errors.ts");
              const error = await connect.endStreamError(data, res.header);
              if (error) throw error;
            }
            if (!ended) throw await (await import("./connect_lite_errors.ts")).missingEnd();
          } catch (error) {
            throw await (await import("./connect_lite_errors.ts")).asConnectError(
              error,
              call.signal,
            );
          } finally {
            call.done();
          }
        },
      };
    },
  };
}

/** Writes each envelope header into the 5 spare bytes the encoders leave. */
function fillHeaders(framed: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  return mapAsync(framed, writeEnvelopeHead);
}

/** A call's own abort signal, following the caller's, aborted once the call is over. */
function linkedAbort(outer?: AbortSignal) {
  const controller = new AbortController();
  const follow = () => controller.abort(outer?.reason);
  if (outer?.aborted) follow();
  outer?.addEventListener("abort", follow, { once: true });
  return {
    signal: controller.signal,
    done() {
      outer?.removeEventListener("abort", follow);
      controller.abort();
    },
  };
}
