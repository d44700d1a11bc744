/** serveWithLimits: the relay's own accept loop — connection caps, header and idle timeouts, descriptor exhaustion — in front of Deno's HTTP engine. */
import { acceptRefusal, type ConnectionLimits, readFdLimit } from "./limits.ts";
import { noDelayForTls } from "./tls_nodelay.ts";

/** Deno's HTTP engine on one accepted connection (what Deno.serve runs per connection inside). */
type ServeOnConnection = (
  connection: Deno.Conn,
  signal: AbortSignal,
  handler: (request: Request, info: { completed?: Promise<void> }) => Response | Promise<Response>,
  onError: (error: unknown) => Response | Promise<Response>,
  onListen: () => void,
) => { finished: Promise<void> };

/**
 * Deno.serve has no header timeout, idle timeout or connection cap, and when
 * accept() fails with EMFILE its loop rejects and the process exits (1,019
 * idle sockets ended a relay). It does expose the engine that serves one
 * connection, so the relay accepts sockets itself and hands each one over.
 * Measured here (8,000 idle streaming requests): 56 KB RSS per connection
 * under Deno.serve, 67 KB this way; 24 keep-alive clients got 1,440 req/s of
 * /healthz and 775 req/s of refused Connect calls. Exec latency and bulk
 * throughput were not compared with Deno.serve. `undefined` on a Deno
 * without it.
 */
const serveOnConnection = (Deno as unknown as Record<symbol, Record<string, unknown>>)[
  (Deno as unknown as { internal: symbol }).internal
]?.serveHttpOnConnection as ServeOnConnection | undefined;

/** What the handler learns about its connection. */
export interface ConnectionInfo {
  remoteAddr: Deno.NetAddr;
}

/** Options of {@linkcode serveWithLimits}. */
export interface LimitedServeOptions {
  hostname: string;
  port: number;
  tls?: { cert: string; key: string };
  limits: ConnectionLimits;
  /** Stops accepting and closes every connection (in-flight requests end). */
  signal: AbortSignal;
  onError: (error: unknown) => Response;
  log: (message: string) => void;
}

/** A running listener. */
export interface LimitedServer {
  addr: Deno.NetAddr;
  /** Connections open now. */
  readonly connections: number;
  /** Resolves once the listener and every connection have ended. */
  finished: Promise<void>;
}

interface Tracked {
  inFlight: number;
  /** When (performance.now) the connection closes if no request is in flight by then. */
  deadline: number;
  timer?: ReturnType<typeof setTimeout>;
  close: AbortController;
}

/**
 * Listens and serves `handler` on every accepted connection, within `limits`.
 * A connection over a cap is answered 503 (plain TCP) or closed (TLS) at once;
 * one that sends no request within the header timeout, or stays without a
 * request in flight for the idle timeout, is closed.
 *
 * @example
 * ```ts
 * const server = serveWithLimits({ hostname: "127.0.0.1", port: 0, limits, signal, onError, log },
 *   (request, info) => new Response(info.remoteAddr.hostname));
 * ```
 */
export function serveWithLimits(
  options: LimitedServeOptions,
  handler: (request: Request, info: ConnectionInfo) => Promise<Response>,
): LimitedServer {
  const serveOn = serveOnConnection;
  if (!serveOn) throw new Error("this Deno has no serveHttpOnConnection");
  const { limits, log } = options;
  const listener = options.tls
    ? Deno.listenTls({
      hostname: options.hostname,
      port: options.port,
      cert: options.tls.cert,
      key: options.tls.key,
      alpnProtocols: ["h2", "http/1.1"],
    })
    : Deno.listen({ hostname: options.hostname, port: options.port });
  if (options.tls) {
    const failed = noDelayForTls((listener.addr as Deno.NetAddr).port);
    if (failed) {
      log(
        `TLS connections keep Nagle's algorithm (a small answer may wait up to 40 ms on the ` +
          `client's delayed ACK): ${failed}`,
      );
    }
  }
  const open = new Set<Tracked>();
  const perSource = new Map<string, number>();
  const endings = new Set<Promise<void>>();
  const refusal = acceptRefusal(log);

  const serveConnection = (conn: Deno.Conn) => {
    // Deno.serve sets TCP_NODELAY on what it accepts; without it a response's head and body,
    // written apart, wait on the peer's delayed ACK: ~200 ms per small request here.
    (conn as Deno.TcpConn).setNoDelay?.(true);
    const peer = conn.remoteAddr as Deno.NetAddr;
    const tracked: Tracked = { inFlight: 0, deadline: 0, close: new AbortController() };
    // One timer per connection, moved only when it fires before the deadline: clearing and
    // setting a timer around every request cost a busy relay ~4% of its time.
    const expire = () => {
      tracked.timer = undefined;
      if (tracked.inFlight > 0 || tracked.close.signal.aborted) return; // a request's end re-arms
      const left = tracked.deadline - performance.now();
      if (left > 0) tracked.timer = setTimeout(expire, left);
      else tracked.close.abort();
    };
    const closeUnlessBusyIn = (ms: number) => {
      tracked.deadline = performance.now() + ms;
      tracked.timer ??= setTimeout(expire, ms);
    };
    closeUnlessBusyIn(limits.headerTimeoutMs);
    open.add(tracked);
    perSource.set(peer.hostname, (perSource.get(peer.hostname) ?? 0) + 1);
    const info: ConnectionInfo = { remoteAddr: peer };
    const served = serveOn(
      conn,
      tracked.close.signal,
      (request, { completed }) => {
        tracked.inFlight++;
        const done = () => {
          if (--tracked.inFlight === 0 && !tracked.close.signal.aborted) {
            closeUnlessBusyIn(limits.idleTimeoutMs);
          }
        };
        (completed ?? Promise.resolve()).then(done, done);
        return handler(request, info);
      },
      options.onError,
      () => {},
    );
    const ending = served.finished.catch((error) => {
      // A peer that hung up mid-answer is ordinary (a client's Ctrl-C): one line per such
      // connection would bury the log; anything else is worth a line.
      if (peerHungUp(error)) return;
      log(`connection from ${peer.hostname} failed: ${(error as Error)?.message ?? error}`);
    }).finally(() => {
      clearTimeout(tracked.timer);
      open.delete(tracked);
      const left = (perSource.get(peer.hostname) ?? 1) - 1;
      if (left > 0) perSource.set(peer.hostname, left);
      else perSource.delete(peer.hostname);
      endings.delete(ending);
    });
    endings.add(ending);
  };

  const accepting = (async () => {
    while (!options.signal.aborted) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (options.signal.aborted) break;
        // Out of descriptors: refuse the waiting client instead of leaving the loop.
        await refusal.onAcceptError(error);
        continue;
      }
      if (!refusal.admit(conn)) continue;
      const source = (conn.remoteAddr as Deno.NetAddr).hostname;
      const over = open.size >= limits.maxConnections
        ? `the relay holds its maximum of ${limits.maxConnections} connections`
        : (perSource.get(source) ?? 0) >= limits.maxConnectionsPerSource
        ? `${source} holds its maximum of ${limits.maxConnectionsPerSource} connections`
        : undefined;
      try {
        if (over) refusal.refuse(conn, over, options.tls !== undefined);
        else serveConnection(conn);
      } catch (error) {
        // One connection's failure (a peer already gone) must never stop the accept loop.
        log(`connection from ${source} failed: ${(error as Error)?.message ?? error}`);
        try {
          conn.close();
        } catch { /* already closed */ }
      }
    }
  })().catch((error) => log(`accept loop ended: ${(error as Error)?.stack ?? error}`));

  const onAbort = () => {
    try {
      listener.close();
    } catch { /* already closed */ }
    for (const tracked of open) tracked.close.abort();
  };
  options.signal.addEventListener("abort", onAbort, { once: true });

  return {
    addr: listener.addr as Deno.NetAddr,
    get connections() {
      return open.size;
    },
    finished: (async () => {
      await accepting;
      while (endings.size > 0) await Promise.allSettled([...endings]);
      refusal.dispose();
    })(),
  };
}

/** Errors of a connection whose peer went away: reset, broken pipe, closed mid-message. */
function peerHungUp(error: unknown): boolean {
  return error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.UnexpectedEof ||
    error instanceof Deno.errors.NotConnected;
}

/** True when this Deno can serve accepted connections itself (see {@linkcode serveWithLimits}). */
export function canServeWithLimits(): boolean {
  return serveOnConnection !== undefined;
}

export { readFdLimit };
