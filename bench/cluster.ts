/** Relay cluster benchmarks: exec round trip and bulk throughput with the client on the agent's node and on another node. */

import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import {
  type SessionInput,
  SessionInputSchema,
  SessionKind,
  SessionService,
} from "../gen/cmdop/v1/session_pb.ts";
import { AsyncQueue } from "../src/lib/async_queue.ts";
import { DEFAULT_WINDOW_BYTES } from "../src/lib/credit.ts";
import { createRelayTransport } from "../src/lib/transport.ts";
import { killAll, MAIN, startAgent } from "../tests/_harness.ts";
import { createClusterWorkspace, listMachines, startNode } from "../tests/cluster/_cluster.ts";
import { ensureClusterPrograms, startNats, startPostgres } from "../tests/cluster/_services.ts";
import { registerCleanup } from "./_cleanup.ts";
import { repeat, timeBulkRead, timeCommand } from "./_run.ts";
import { type Measurement, measurementTable, summarizeLatency, summarizeRate } from "./_stats.ts";

/** Sizes and counts of the cluster figures. */
export interface ClusterBenchOptions {
  /** Timed runs per latency figure. */
  runs: number;
  /** Untimed runs before them. */
  warmup: number;
  /** Bytes of `head -c BYTES /dev/zero` per bulk transfer. */
  bulkBytes: number;
  /** Bulk transfers per placement (the median counts). */
  bulkRuns: number;
}

/** Where the client sits relative to the agent's node. */
export type Placement = "same-node" | "cross-node";

/** Two relay nodes on PostgreSQL and NATS, one agent held by the first. */
export interface ClusterStack {
  /** Command line that runs the CLI. */
  cli: string[];
  /** Hostname the agent enrolled as. */
  host: string;
  apiKey: string;
  /** Relay URL for each placement: the agent's node, or the other one. */
  urls: Record<Placement, string>;
  /** CLI environment for each placement. */
  env: Record<Placement, Record<string, string>>;
  stop(): Promise<void>;
}

/**
 * Starts PostgreSQL, nats-server, two relay nodes and an agent on the first
 * node, all on loopback. Resolves undefined (printing why) when PostgreSQL or
 * nats-server cannot be installed.
 *
 * @example
 * ```ts
 * const stack = await startClusterStack();
 * if (stack) try { await measureClusterExec(stack, options); } finally { await stack.stop(); }
 * ```
 */
export async function startClusterStack(): Promise<ClusterStack | undefined> {
  const missing = await ensureClusterPrograms();
  if (missing) {
    console.error(`cluster benchmarks skipped: ${missing}`);
    return undefined;
  }
  const [pg, nats] = await Promise.all([startPostgres(), startNats()]);
  const release = registerCleanup(() => {
    for (const pid of [pg.pid, nats.pid]) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* gone */ }
    }
  });
  const [a, b] = await Promise.all([
    startNode(pg.url, nats.url, "bench-a"),
    startNode(pg.url, nats.url, "bench-b"),
  ]);
  const ws = await createClusterWorkspace(pg.url, "bench");
  await startAgent(a.url, ws.enroll_token, { hostname: "bench-host" });
  const home = await Deno.makeTempDir({ prefix: "cmdop-bench-home-" });
  const env = (url: string) => ({
    CMDOP_SERVER: url,
    CMDOP_API_KEY: ws.api_key,
    CMDOP_HOME: home,
    NO_COLOR: "1",
  });
  return {
    cli: [Deno.execPath(), "run", "-A", "--quiet", MAIN],
    host: "bench-host",
    apiKey: ws.api_key,
    urls: { "same-node": a.url, "cross-node": b.url },
    env: { "same-node": env(a.url), "cross-node": env(b.url) },
    async stop() {
      await killAll();
      await Promise.all([pg.stop(), nats.stop()]);
      release();
      await Deno.remove(home, { recursive: true }).catch(() => {});
    },
  };
}

const PLACEMENTS: Placement[] = ["same-node", "cross-node"];

/**
 * `cmdop connect exec HOST -- true`, one CLI process per run, for each
 * placement: metric `exec.new`, tool `cmdop-cluster/<placement>`.
 *
 * @example
 * ```ts
 * const figures = await measureClusterExec(stack, { runs: 20, warmup: 2, bulkBytes: 1e8, bulkRuns: 3 });
 * ```
 */
export async function measureClusterExec(
  stack: ClusterStack,
  options: ClusterBenchOptions,
): Promise<Measurement[]> {
  const figures: Measurement[] = [];
  for (const placement of PLACEMENTS) {
    const args = [...stack.cli.slice(1), "connect", "exec", stack.host, "--", "true"];
    const samples = await repeat(
      options.runs,
      options.warmup,
      () => timeCommand(stack.cli[0], args, { env: stack.env[placement] }),
    );
    figures.push({
      tool: `cmdop-cluster/${placement}`,
      metric: "exec.new",
      label: `exec round trip, new CLI process, ${placement}`,
      stats: summarizeLatency(samples),
    });
  }
  return figures;
}

/**
 * A session running `true`, opened and awaited to its exit over one kept
 * transport, for each placement: the relay and bus hops without CLI start-up.
 * Metric `exec.reused`, tool `cmdop-cluster/<placement>`.
 *
 * @example
 * ```ts
 * const figures = await measureClusterSessionRoundTrip(stack, options);
 * ```
 */
export async function measureClusterSessionRoundTrip(
  stack: ClusterStack,
  options: ClusterBenchOptions,
): Promise<Measurement[]> {
  const figures: Measurement[] = [];
  for (const placement of PLACEMENTS) {
    const transport = createRelayTransport({
      baseUrl: stack.urls[placement],
      bearer: stack.apiKey,
    });
    const sessions = createClient(SessionService, transport);
    const machines = await listMachines(stack.urls[placement], stack.apiKey);
    const machineId = machines.find((m) => m.hostname === stack.host)!.id;
    const once = async () => {
      const inputs = new AsyncQueue<SessionInput>();
      inputs.push(create(SessionInputSchema, {
        msg: {
          case: "open",
          value: {
            machineId,
            kind: SessionKind.EXEC,
            argv: ["true"],
            windowBytes: DEFAULT_WINDOW_BYTES,
          },
        },
      }));
      const start = performance.now();
      for await (const frame of sessions.session(inputs)) {
        if (frame.msg.case === "exit") break;
      }
      inputs.close();
      return performance.now() - start;
    };
    const samples = await repeat(options.runs, options.warmup, once);
    figures.push({
      tool: `cmdop-cluster/${placement}`,
      metric: "exec.reused",
      label: `exec round trip, kept connection, ${placement}`,
      stats: summarizeLatency(samples),
    });
  }
  return figures;
}

/**
 * `cmdop connect exec HOST -- head -c BYTES /dev/zero` read to the end, for
 * each placement: metric `bulk`, tool `cmdop-cluster/<placement>`, rate from
 * first to last byte.
 *
 * @example
 * ```ts
 * const figures = await measureClusterBulk(stack, options);
 * ```
 */
export async function measureClusterBulk(
  stack: ClusterStack,
  options: ClusterBenchOptions,
): Promise<Measurement[]> {
  const figures: Measurement[] = [];
  for (const placement of PLACEMENTS) {
    const args = [
      ...stack.cli.slice(1),
      "connect",
      "exec",
      stack.host,
      "--",
      "head",
      "-c",
      String(options.bulkBytes),
      "/dev/zero",
    ];
    const seconds: number[] = [];
    for (let i = 0; i < options.bulkRuns; i++) {
      const read = await timeBulkRead(stack.cli[0], args, options.bulkBytes, {
        env: stack.env[placement],
      });
      seconds.push(read.streamSeconds);
    }
    figures.push({
      tool: `cmdop-cluster/${placement}`,
      metric: "bulk",
      label: `exec bulk output, ${placement}`,
      stats: summarizeRate(options.bulkBytes, seconds),
    });
  }
  return figures;
}

/**
 * Everything above on one stack, started and stopped here; undefined when the
 * cluster's services cannot be had.
 *
 * @example
 * ```ts
 * console.log(measurementTable(await runClusterBench(options) ?? []));
 * ```
 */
export async function runClusterBench(
  options: ClusterBenchOptions,
): Promise<Measurement[] | undefined> {
  const stack = await startClusterStack();
  if (!stack) return undefined;
  try {
    return [
      ...await measureClusterExec(stack, options),
      ...await measureClusterSessionRoundTrip(stack, options),
      ...await measureClusterBulk(stack, options),
    ];
  } finally {
    await stack.stop();
  }
}

if (import.meta.main) {
  const quick = Deno.args.includes("--quick");
  const figures = await runClusterBench({
    runs: quick ? 10 : 30,
    warmup: 2,
    bulkBytes: quick ? 200_000_000 : 1_000_000_000,
    bulkRuns: quick ? 2 : 3,
  });
  if (figures) console.log(measurementTable(figures));
}
