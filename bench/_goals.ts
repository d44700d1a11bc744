/** The performance goals of cmdop, checked against one run's figures. */

import type { CapacityReport } from "./capacity.ts";
import {
  formatTable,
  type LatencyStats,
  type Measurement,
  type RateStats,
  TLS_RELAY,
} from "./_stats.ts";

/** One goal and how the run fared against it. */
export interface GoalResult {
  goal: string;
  /** What was measured, in words with its unit. */
  actual: string;
  /** `undefined` when a figure it needs was not measured. */
  met?: boolean;
}

/** One side of a ratio: the figure and how the goals table writes it. */
interface Figure {
  value: number;
  text: string;
}

function latency(all: readonly Measurement[], tool: string, metric: string): Figure | undefined {
  const m = all.find((m) => m.tool === tool && m.metric === metric);
  if (m?.stats.kind !== "latency") return undefined;
  const p50 = (m.stats as LatencyStats).p50;
  return { value: p50, text: `${p50 < 10 ? p50.toFixed(3) : p50.toFixed(1)} ms` };
}

function rate(all: readonly Measurement[], tool: string, metric: string): Figure | undefined {
  const m = all.find((m) => m.tool === tool && m.metric === metric);
  if (m?.stats.kind !== "rate") return undefined;
  const mbPerSec = (m.stats as RateStats).mbPerSec;
  return { value: mbPerSec, text: `${mbPerSec.toFixed(0)} MB/s` };
}

/**
 * A goal on the ratio of a cmdop figure to a baseline taken in the same run: met when
 * `figure / base` is at least (`"min"`) or at most (`"max"`) `limit`.
 */
function ratioGoal(
  goal: string,
  figure: Figure | undefined,
  base: Figure | undefined,
  limit: number,
  bound: "min" | "max",
): GoalResult {
  if (!figure || !base) return { goal, actual: "-" };
  const ratio = figure.value / base.value;
  return {
    goal,
    actual: `${ratio.toFixed(2)}x (${figure.text} vs ${base.text})`,
    met: bound === "min" ? ratio >= limit : ratio <= limit,
  };
}

/**
 * Checks the goals, each a ratio to a baseline of the same run: bulk output at
 * least ssh's on the plain relay and at least `ssh -J`'s on the TLS relay;
 * keystroke echo at most `ssh -J`'s; exec of `true` in a new process at most
 * 0.2x ssh's full handshake and 2x an empty `deno run` (echo and exec on both
 * relays); 10,000 idle agents in 1 GiB; all back within 30 s of a relay restart.
 *
 * @example
 * ```ts
 * console.log(goalsTable(checkGoals(log.sorted(), capacity)));
 * ```
 */
export function checkGoals(all: readonly Measurement[], capacity?: CapacityReport): GoalResult[] {
  const sshExec = latency(all, "ssh", "exec.new");
  const denoRun = latency(all, "deno", "startup");
  const jumpEcho = latency(all, "ssh -J", "echo");
  const results: GoalResult[] = [
    ratioGoal(
      "bulk output, plain relay >= 1.0x ssh direct",
      rate(all, "cmdop", "bulk"),
      rate(all, "ssh", "bulk"),
      1,
      "min",
    ),
    ratioGoal(
      "bulk output, TLS relay >= 1.0x ssh -J",
      rate(all, "cmdop", `bulk${TLS_RELAY}`),
      rate(all, "ssh -J", "bulk"),
      1,
      "min",
    ),
  ];
  const relays = [["plain", ""], ["TLS", TLS_RELAY]];
  for (const [relay, suffix] of relays) {
    const echo = latency(all, "cmdop", `echo${suffix}`);
    results.push(
      ratioGoal(`keystroke echo p50, ${relay} relay <= 1.0x ssh -J`, echo, jumpEcho, 1, "max"),
    );
  }
  for (const [relay, suffix] of relays) {
    const exec = latency(all, "cmdop", `exec.new${suffix}`);
    results.push(
      ratioGoal(`exec true p50, ${relay} relay <= 0.2x ssh direct`, exec, sshExec, 0.2, "max"),
      ratioGoal(`exec true p50, ${relay} relay <= 2.0x empty deno run`, exec, denoRun, 2, "max"),
    );
  }
  const tenK = capacity && capacity.agents >= 10_000;
  results.push({
    goal: "10,000 idle agents in <= 1 GiB relay RSS",
    actual: capacity
      ? `${(capacity.relayRssIdleBytes / 2 ** 20).toFixed(0)} MiB at ${capacity.agents} agents`
      : "-",
    met: tenK ? capacity.relayRssIdleBytes <= 2 ** 30 : undefined,
  });
  const storm = capacity?.storm;
  results.push({
    goal: "all agents back <= 30 s after relay SIGKILL, relay up",
    actual: storm ? `${storm.fromKillSeconds.toFixed(1)} s for ${capacity!.agents} agents` : "-",
    met: tenK && storm ? storm.fromKillSeconds <= 30 && storm.relayAlive : undefined,
  });
  return results;
}

/**
 * The goals as a table: met, missed, or not measured.
 *
 * @example
 * ```ts
 * console.log(goalsTable(results));
 * ```
 */
export function goalsTable(results: readonly GoalResult[]): string {
  const verdict = (r: GoalResult) =>
    r.met === undefined ? "not measured" : r.met ? "met" : "MISSED";
  return formatTable(
    ["goal", "this run", "verdict"],
    results.map((r) => [r.goal, r.actual, verdict(r)]),
  );
}
