/** The relay's Prometheus metrics (prom-client), one registry per relay so tests can run several in one process. */
import { Counter, Gauge, Histogram, Registry } from "prom-client";

/** Every metric the relay exports; names are part of the operator contract (docs/deploy.md). */
export interface RelayMetrics {
  registry: Registry;
  /** Exec and terminal sessions currently spliced through this relay. */
  sessionsOpen: Gauge;
  /** Sessions asked of an agent that has not dialled back yet. */
  sessionsWaiting: Gauge;
  /** Sessions opened since start, by kind of end (`exit`, `lost`). */
  sessionsTotal: Counter<"end">;
  /** Agents holding a control stream on this relay. */
  agentsConnected: Gauge;
  /** Session payload bytes, `direction` = `output` (agent to client) or `input`. */
  bytesRelayed: Counter<"direction">;
  /** Calls refused for their credential, by the kind of credential. */
  authFailures: Counter<"credential">;
  /** Duration of each RPC (whole stream for streaming calls), by method and Connect code. */
  rpcDuration: Histogram<"method" | "code">;
  /** Duration of each store call, by operation. */
  storeDuration: Histogram<"op" | "result">;
}

/** Sub-millisecond store calls up to half-minute sessions. */
const RPC_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60, 600];
const STORE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2];

/**
 * Creates the relay's registry with its metrics and the process's memory. prom-client's
 * default metrics are left out: under Deno its event-loop lag figures print `Nan`, which
 * is not valid in the exposition format and made parsers reject the whole page.
 *
 * @example
 * ```ts
 * const metrics = createRelayMetrics({ agentsOnline: () => bus.connectedAgents });
 * metrics.sessionsOpen.inc();
 * const text = await metrics.registry.metrics();
 * ```
 */
export function createRelayMetrics(
  sources: { agentsOnline: () => number },
): RelayMetrics {
  const registry = new Registry();
  const registers = [registry];
  new Gauge({
    name: "process_resident_memory_bytes",
    help: "Resident memory size in bytes",
    registers,
    collect() {
      this.set(Deno.memoryUsage().rss);
    },
  });
  return {
    registry,
    sessionsOpen: new Gauge({
      name: "cmdop_sessions_open",
      help: "Exec and terminal sessions currently relayed",
      registers,
    }),
    sessionsWaiting: new Gauge({
      name: "cmdop_sessions_waiting",
      help: "Sessions asked of an agent that has not dialled back yet",
      registers,
    }),
    sessionsTotal: new Counter({
      name: "cmdop_sessions_total",
      help: "Sessions relayed since start, by how they ended",
      labelNames: ["end"],
      registers,
    }),
    agentsConnected: new Gauge({
      name: "cmdop_agents_online",
      help: "Agents holding a control stream on this relay",
      registers,
      collect() {
        this.set(sources.agentsOnline());
      },
    }),
    bytesRelayed: new Counter({
      name: "cmdop_relayed_bytes_total",
      help: "Session payload bytes relayed, by direction (output: agent to client)",
      labelNames: ["direction"],
      registers,
    }),
    authFailures: new Counter({
      name: "cmdop_auth_failures_total",
      help: "Calls refused for their credential, by credential kind",
      labelNames: ["credential"],
      registers,
    }),
    rpcDuration: new Histogram({
      name: "cmdop_rpc_duration_seconds",
      help: "RPC duration (the whole stream for streaming calls), by method and Connect code",
      labelNames: ["method", "code"],
      buckets: RPC_BUCKETS,
      registers,
    }),
    storeDuration: new Histogram({
      name: "cmdop_store_duration_seconds",
      help: "Store call duration, by operation and result",
      labelNames: ["op", "result"],
      buckets: STORE_BUCKETS,
      registers,
    }),
  };
}
