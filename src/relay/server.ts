/** startRelay: the relay's Connect services on its own accept loop (listener.ts), plus its few plain HTTP pages. */
import { Code, ConnectError, createConnectRouter, type Interceptor } from "@connectrpc/connect";
import type { UniversalHandler } from "@connectrpc/connect/protocol";
import { admitConnectCall, refuseBody } from "./admission.ts";
import type { Bus } from "./bus/bus.ts";
import { LocalBus } from "./bus/local.ts";
import { DEFAULT_KEEPALIVE_MS } from "../lib/keepalive.ts";
import { RELAY_TLS_HEADER } from "../lib/relay_http_client.ts";
import { CONTROL_PATH, serveControl } from "./control_stream.ts";
import type { RelayDeps } from "./deps.ts";
import { serveUniversal } from "./fetch_adapter.ts";
import { GRPC_REFUSAL_MESSAGE, grpcRefusal, isGrpcRequest } from "./grpc_refusal.ts";
import {
  type ConnectionLimits,
  defaultConnectionLimits,
  MAX_STREAM_MESSAGE_BYTES,
  MAX_UNARY_MESSAGE_BYTES,
} from "./limits.ts";
import { serveWithLimits } from "./listener.ts";
import { createPasswordLimiters } from "./machine_access.ts";
import type { Logger } from "../lib/log.ts";
import { observePage } from "./observe/endpoints.ts";
import { instrumentBus, instrumentStore } from "./observe/instrument.ts";
import { createRelayMetrics, type RelayMetrics } from "./observe/metrics.ts";
import { createCallRecorder, createRpcObserver } from "./observe/rpc_observer.ts";
import { clientAddress, type TrustedProxies } from "./client_address.ts";
import { createRelayRoutes, type LoginHooks } from "./routes.ts";
import { createSessionCalls } from "./services/session_service.ts";
import { DIAL_PATH, dialStream, SESSION_PATH, sessionStream } from "./spliced_streams.ts";
import { HEARTBEAT_PATH, serveHeartbeat, takesHeartbeat } from "./heartbeat_call.ts";
import { serveBidi, serveBidiPush, takesBidi } from "./wire/bidi_stream.ts";
import type { Store } from "./store/store.ts";
import type { AuditStore } from "./audit/audit_events.ts";
import { AuditLog, NO_AUDIT_STORE } from "./audit/audit_log.ts";
import { NO_RECORDING_STORE, type RecordingStore } from "./recording/recording_store.ts";
import {
  DEFAULT_RECORDING_LIMITS,
  type RecordingLimits,
  Recordings,
} from "./recording/recordings.ts";
import { serveSharePath } from "./web/share_page.ts";

/** Options of {@linkcode startRelay}. */
export interface RelayOptions {
  hostname: string;
  port: number;
  store: Store;
  bus?: Bus;
  /** Where audit events go, beside `store` in the same database; none are kept without it. */
  audit?: AuditStore;
  /** Where session recordings go, beside `store`; none are kept without it. */
  recordings?: RecordingStore;
  /** Retention and caps of recordings; unset fields keep {@linkcode DEFAULT_RECORDING_LIMITS}. */
  recordingLimits?: Partial<RecordingLimits>;
  /** Recordings wait this long before small writes (PostgreSQL: fewer, larger chunk rows). */
  recordingCoalesceMs?: number;
  /** PEM certificate chain and private key: serve HTTPS (HTTP/2 offered through ALPN). */
  tls?: { cert: string; key: string };
  /** The URL printed in share links; defaults to the listening address. */
  publicUrl?: string;
  now?: () => number;
  log?: Logger;
  /** Ping interval of control streams and sessions; {@linkcode DEFAULT_KEEPALIVE_MS} unless given. */
  keepaliveMs?: number;
  /**
   * Extra routes (login pages) and the access-token resolver that comes with them; or a
   * function building them from the relay's deps (clock, public URL, log).
   */
  login?: RelayLogin | ((deps: RelayDeps) => RelayLogin);
  /** Connection caps and timeouts; unset fields keep {@linkcode defaultConnectionLimits}. */
  limits?: Partial<ConnectionLimits>;
  /**
   * Reverse proxies whose `X-Forwarded-For` names the client (`--trusted-proxy`); without
   * them the client is the TCP peer.
   */
  trustedProxies?: TrustedProxies;
}

/**
 * Serves the plain HTTP routes of user login (device flow endpoints, the verification
 * page); `undefined` for paths it does not own. `peer` is the caller's address.
 */
export type LoginHttpHandler = (
  req: Request,
  info: { peer: string },
) => Promise<Response | undefined>;

/** User login as the relay serves it. */
export type RelayLogin = LoginHooks & { handleHttp?: LoginHttpHandler };

export interface RelayServer {
  /** `http://HOST:PORT` (or `https://`) it listens on. */
  url: string;
  deps: RelayDeps;
  /** What `/metrics` exports. */
  metrics: RelayMetrics;
  /** Stops accepting, ends open streams, closes the store. */
  close(): Promise<void>;
  /** Resolves when the server has stopped. */
  finished: Promise<void>;
}

/**
 * Starts a relay and resolves once it is listening.
 *
 * @example
 * ```ts
 * const relay = await startRelay({ hostname: "127.0.0.1", port: 0, store });
 * console.log(relay.url);
 * ```
 */
// Async although nothing is awaited: a refused listen (thrown by Deno.listen) must be a rejection.
// deno-lint-ignore require-await
export async function startRelay(options: RelayOptions): Promise<RelayServer> {
  const now = options.now ?? Date.now;
  const log = options.log ?? (() => {});
  const agentBus = options.bus ?? new LocalBus({ now });
  const metrics = createRelayMetrics({ agentsOnline: () => agentBus.connectedAgents });
  const bus = instrumentBus(agentBus, metrics);
  const store = instrumentStore(options.store, metrics);
  const abort = new AbortController();
  let url = "";
  const deps: RelayDeps = {
    store,
    bus,
    now,
    get publicUrl() {
      return options.publicUrl ?? url;
    },
    passwordLimiters: createPasswordLimiters(),
    keepaliveMs: options.keepaliveMs ?? DEFAULT_KEEPALIVE_MS,
    log,
    audit: new AuditLog(options.audit ?? NO_AUDIT_STORE, now, log),
    recordings: new Recordings({
      store: options.recordings ?? NO_RECORDING_STORE,
      limits: { ...DEFAULT_RECORDING_LIMITS, ...options.recordingLimits },
      now,
      log,
      coalesceMs: options.recordingCoalesceMs,
    }),
  };
  const stopPruning = options.recordings ? deps.recordings.startPruning() : () => {};
  const login = typeof options.login === "function" ? options.login(deps) : options.login;
  const record = createCallRecorder(metrics, log);
  const sessions = createSessionCalls(deps, login?.resolveAccessToken);
  const handlers = routeHandlers(
    createRelayRoutes(deps, login, sessions),
    createRpcObserver(record),
  );

  const limits = { ...defaultConnectionLimits(), ...options.limits };
  const server = serveWithLimits({
    hostname: options.hostname,
    port: options.port,
    tls: options.tls,
    limits,
    signal: abort.signal,
    log,
    onError: (error) => {
      log(`request failed: ${error instanceof Error ? error.message : String(error)}`);
      return new Response("internal error", { status: 500 });
    },
  }, async (request, info) => {
    const startedMs = performance.now();
    const path = new URL(request.url).pathname;
    const handler = handlers.get(path);
    // The client's address feeds the password limiters and the audit log; a client cannot
    // choose it (X-Forwarded-For counts only from a trusted proxy, and only its own entry).
    const peer = clientAddress(
      info.remoteAddr.hostname ?? "unknown",
      request.headers.get("x-forwarded-for"),
      options.trustedProxies,
    );
    if (handler && isGrpcRequest(request)) {
      const header = new Headers(request.headers);
      header.set("cmdop-peer", peer);
      const refused = new ConnectError(GRPC_REFUSAL_MESSAGE, Code.Unimplemented);
      record({ method: methodOf(path), header, startedMs, error: refused });
      await request.body?.cancel().catch(() => {});
      return grpcRefusal();
    }
    if (handler && path === HEARTBEAT_PATH && takesHeartbeat(request)) {
      // Every agent's answer to every ping: served without the generic pipeline (see heartbeat_call.ts).
      const header = withPeerHeader(request.headers, peer);
      const response = await serveHeartbeat(
        deps,
        request,
        header,
        limits.bodyTimeoutMs,
        (error) => record({ method: methodOf(path), header, startedMs, error }),
      );
      if (options.tls) response.headers.set(RELAY_TLS_HEADER, "relay");
      return response;
    }
    if (handler) {
      // The credential is in the headers: check it before a byte of the body is read.
      const refused = await admitConnectCall(
        deps,
        path,
        request.headers,
        login?.resolveAccessToken,
        peer,
      );
      if (refused) {
        // Counted and logged like any refused call: the access line and the auth failure.
        const header = new Headers(request.headers);
        header.set("cmdop-peer", peer);
        record({ method: methodOf(path), header, startedMs, error: refused.error });
        refuseBody(request);
        return refused.response;
      }
      const withPeer = (req: Request) => {
        const headers = new Headers(req.headers);
        headers.set("cmdop-peer", peer);
        // A unary body trickled a byte at a time would hold its connection past any idle timeout.
        const unary = handler.method.methodKind === "unary";
        return serveUniversal(handler, req, headers, unary ? limits.bodyTimeoutMs : undefined);
      };
      const recordEnd = (error?: unknown) => {
        const header = new Headers(request.headers);
        header.set("cmdop-peer", peer);
        record({ method: methodOf(path), header, startedMs, error });
      };
      // Held open by every agent: served without the generic pipeline (see control_stream.ts).
      // A session's bytes pass the relay without being decoded and encoded again
      // (spliced_streams.ts); other encodings of the two streams go through the router.
      const spliced = (path === DIAL_PATH || path === SESSION_PATH) && takesBidi(request);
      const response = path === CONTROL_PATH
        ? await serveControl(deps, request, withPeer, recordEnd)
        : spliced
        ? path === DIAL_PATH
          ? serveBidiPush(
            request,
            withPeerHeader(request.headers, peer),
            MAX_STREAM_MESSAGE_BYTES,
            (inputs, sink, call) => dialStream(deps, inputs, sink, call),
            recordEnd,
          )
          : serveBidi(
            request,
            withPeerHeader(request.headers, peer),
            MAX_STREAM_MESSAGE_BYTES,
            (inputs, call) => sessionStream(sessions, inputs, call),
            recordEnd,
          )
        : await withPeer(request);
      // Tells nginx not to hold streamed output back (its proxy_buffering is on by default).
      response.headers.set("x-accel-buffering", "no");
      // Clients reaching https:// without this know a front end terminated TLS (relay_http_client.ts).
      if (options.tls) response.headers.set(RELAY_TLS_HEADER, "relay");
      return response;
    }
    const page = await observePage(path, { store, bus, metrics }) ??
      (path.startsWith("/s/")
        ? await serveSharePath(deps, request, path)
        : await login?.handleHttp?.(request, { peer })) ??
      new Response("not found\n", { status: 404 });
    // A body the page did not read must still be let go of: until it is, the connection serves
    // nothing else, and a keep-alive client's next request on it waited for good (a POST of 5 KB
    // to /healthz was enough; bodies that came in with the head did not stall it).
    refuseBody(request);
    return page;
  });
  const host = server.addr.hostname.includes(":")
    ? `[${server.addr.hostname}]`
    : server.addr.hostname;
  url = `${options.tls ? "https" : "http"}://${host}:${server.addr.port}`;

  let closing: Promise<void> | undefined;
  return {
    get url() {
      return url;
    },
    deps,
    metrics,
    finished: server.finished,
    close() {
      closing ??= (async () => {
        abort.abort();
        stopPruning();
        await server.finished;
        await bus.close();
        await deps.recordings.flush();
        await deps.audit.flush();
        await options.store.close();
      })();
      return closing;
    },
  };
}

function withPeerHeader(headers: Headers, peer: string): Headers {
  const copy = new Headers(headers);
  copy.set("cmdop-peer", peer);
  return copy;
}

/** `Service/Method` of a request path, for the access log. */
function methodOf(path: string): string {
  return path.replace(/^\/[^/]*?([^./]+\/[^/]+)$/, "$1");
}

/**
 * The Connect handler of each path, with its read cap: unary calls get the
 * small one, streams the per-message one. readMaxBytes is set per router, so
 * the routes are registered on one router of each kind.
 */
function routeHandlers(
  routes: (router: ReturnType<typeof createConnectRouter>) => void,
  observer: Interceptor,
): Map<string, UniversalHandler> {
  const unary = createConnectRouter({
    interceptors: [observer],
    readMaxBytes: MAX_UNARY_MESSAGE_BYTES,
  });
  const streams = createConnectRouter({
    interceptors: [observer],
    readMaxBytes: MAX_STREAM_MESSAGE_BYTES,
  });
  routes(unary);
  routes(streams);
  const handlers = new Map<string, UniversalHandler>();
  for (const handler of streams.handlers) handlers.set(handler.requestPath, handler);
  for (const handler of unary.handlers) {
    if (handler.method.methodKind === "unary") handlers.set(handler.requestPath, handler);
  }
  return handlers;
}
