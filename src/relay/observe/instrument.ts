/** Wraps the relay's Store and Bus so that store latency, sessions and relayed bytes reach the metrics without the services knowing. */
import type { SessionOutput } from "../../../gen/cmdop/v1/session_pb.ts";
import type { Bus, DialedSession } from "../bus/bus.ts";
import type { Store } from "../store/store.ts";
import type { RelayMetrics } from "./metrics.ts";

/**
 * The same store, each method call timed into `cmdop_store_duration_seconds{op,result}`.
 * Other properties (the SQLite handle, the PostgreSQL pool) pass through untouched.
 *
 * @example
 * ```ts
 * const store = instrumentStore(await openSqliteStore(dir), metrics);
 * ```
 */
export function instrumentStore<S extends Store>(store: S, metrics: RelayMetrics): S {
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, prop) {
      // The target as receiver: its getters read private fields a proxy does not have.
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function" || typeof prop !== "string" || prop === "constructor") {
        return value;
      }
      let fn = wrapped.get(prop);
      if (!fn) {
        fn = (...args: unknown[]) => {
          const stop = metrics.storeDuration.startTimer({ op: prop });
          let result: unknown;
          try {
            result = value.apply(target, args);
          } catch (error) {
            stop({ result: "error" });
            throw error;
          }
          if (!(result instanceof Promise)) {
            stop({ result: "ok" });
            return result;
          }
          return result.then(
            (v) => (stop({ result: "ok" }), v),
            (e) => {
              stop({ result: "error" });
              throw e;
            },
          );
        };
        wrapped.set(prop, fn);
      }
      return fn;
    },
  });
}

/**
 * The same bus, every dialed session counted: waiting for its agent, open, how it ended,
 * payload bytes each way.
 *
 * @example
 * ```ts
 * const bus = instrumentBus(new LocalBus({ now }), metrics);
 * ```
 */
export function instrumentBus(bus: Bus, metrics: RelayMetrics): Bus {
  return new Proxy(bus, {
    get(target, prop) {
      if (prop === "dial") {
        return async (machineId: string, sessionId: string, signal: AbortSignal) => {
          metrics.sessionsWaiting.inc();
          try {
            return countSession(await target.dial(machineId, sessionId, signal), metrics);
          } finally {
            metrics.sessionsWaiting.dec();
          }
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

function countSession(session: DialedSession, metrics: RelayMetrics): DialedSession {
  metrics.sessionsOpen.inc();
  let exited = false;
  let open = true;
  const close = () => {
    if (!open) return;
    open = false;
    metrics.sessionsOpen.dec();
    metrics.sessionsTotal.inc({ end: exited ? "exit" : "lost" });
  };
  const output = metrics.bytesRelayed.labels({ direction: "output" });
  const input = metrics.bytesRelayed.labels({ direction: "input" });
  // One reaction per frame rather than a generator's steps: every keystroke's echo passes here.
  const inner = session.frames[Symbol.asyncIterator]();
  const count = (next: IteratorResult<SessionOutput>) => {
    if (next.done) close();
    else if (next.value.msg.case === "output") output.inc(next.value.msg.value.data.length);
    else if (next.value.msg.case === "exit") exited = true;
    return next;
  };
  const failed = (error: unknown): never => {
    close();
    throw error;
  };
  const frames: AsyncIterableIterator<SessionOutput> = {
    next: () => inner.next().then(count, failed),
    return: async () => {
      close();
      await inner.return?.();
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]: () => frames,
  };
  return {
    frames,
    send(frame) {
      if (frame.msg.case === "data") input.inc(frame.msg.value.length);
      return session.send(frame);
    },
    end() {
      session.end();
      close();
    },
  };
}
