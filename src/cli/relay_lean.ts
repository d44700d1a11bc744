/** The relay clients of the exec path without connect-es or protobuf-es: ~20 ms less start-up for every exec. */
import type { Client } from "@connectrpc/connect";
import type { MachineService } from "../../gen/cmdop/v1/machine_pb.ts";
import { createRelayHttpClient } from "../lib/relay_http_client.ts";
import { mapAsync } from "../lib/map_async.ts";
import { createConnectLite } from "../lib/wire/connect_lite.ts";
import {
  decodeListMachinesResponse,
  decodeSessionOutput,
  encodeListMachinesRequest,
  encodeSessionInput,
  type SessionInputInit,
} from "../lib/wire/session_codec.ts";
import type { FullClientOptions, RelayClients } from "./relay_clients.ts";

/**
 * `listMachines` and `session` speak the Connect protocol through the lean
 * codecs generated from proto/ (src/protocol/lean/); every other call loads the connect-es
 * clients on first use, so they behave exactly as before.
 *
 * @example
 * ```ts
 * const clients = leanRelayClients({ baseUrl, bearer, headers: {}, interceptors: [] });
 * ```
 */
export function leanRelayClients(
  options: FullClientOptions & { caCerts?: string[] },
): RelayClients {
  const headers: Record<string, string> = { ...options.headers };
  if (options.bearer) headers["authorization"] = `Bearer ${options.bearer}`;
  const relay = createConnectLite({
    baseUrl: options.baseUrl,
    headers,
    httpClient: createRelayHttpClient({ caCerts: options.caCerts }),
  });
  let full: Promise<RelayClients> | undefined;
  const loadFull = () =>
    full ??= import("./relay_full.ts").then((module) => module.fullRelayClients(options));
  const machines = {
    async listMachines(request, callOptions) {
      const path = "/cmdop.v1.MachineService/ListMachines";
      const answer = await relay.unary(
        path,
        encodeListMachinesRequest(request),
        callOptions?.signal,
      );
      return decodeListMachinesResponse(answer);
    },
    unlockMachine: async (request, callOptions) =>
      (await loadFull()).machines.unlockMachine(request, callOptions),
    removeMachine: async (request, callOptions) =>
      (await loadFull()).machines.removeMachine(request, callOptions),
  } as Client<typeof MachineService>;
  return {
    machines,
    sessions: {
      async *session(inputs, callOptions) {
        const path = "/cmdop.v1.SessionService/Session";
        for await (const bytes of relay.stream(path, framed(inputs), callOptions?.signal)) {
          yield decodeSessionOutput(bytes);
        }
      },
      // The fallback for paths without full duplex: not worth a codec of its own.
      async *halfSession(open, callOptions) {
        yield* (await loadFull()).sessions.halfSession(open, callOptions);
      },
      sendInput: async (request, callOptions) =>
        (await loadFull()).sessions.sendInput(request, callOptions),
    },
    shares: lazyClient(() => loadFull().then((c) => c.shares)),
    workspaces: lazyClient(() => loadFull().then((c) => c.workspaces)),
    audit: lazyClient(() => loadFull().then((c) => c.audit)),
    recordings: {
      listRecordings: async (request, callOptions) =>
        (await loadFull()).recordings.listRecordings(request, callOptions),
      async *readRecording(request, callOptions) {
        yield* (await loadFull()).recordings.readRecording(request, callOptions);
      },
    } as RelayClients["recordings"],
  };
}

function framed(inputs: AsyncIterable<SessionInputInit>): AsyncIterable<Uint8Array> {
  // Five spare bytes in front of each frame for its envelope header.
  return mapAsync(inputs, (input) => encodeSessionInput(input, 5));
}

/** A client of unary methods whose calls wait for the real client to load. */
function lazyClient<T extends object>(load: () => Promise<T>): T {
  return new Proxy({} as T, {
    get: (_target, method) => (...args: unknown[]) =>
      load().then((client) =>
        (client as Record<PropertyKey, (...a: unknown[]) => unknown>)[method](...args)
      ),
  });
}
