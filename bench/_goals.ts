/** The performance goals of cmdop, checked against one run's figures. */

import type { CapacityReport } from "./capacity.ts";
import { formatTable, type LatencyStats, type Measurement, type RateStats } from "./_stats.ts";

/** One goal and how the run fared against it. */
export interface GoalResult {
  goal: string;
  /** What was measured, in words with its unit. */
  actual: string;
  /** `undefined` when a figure it needs was not measured. */
  met?: boolean;
}

function latency(all: readonly Measurement[], tool: string, metric: string, label?: RegExp) {
  const m = all.find((m) =>
    m.tool === tool && m.metric === metric && (!label || label.test(m.label))
  );
  return m?.stats.kind === "latency" ? m.stats as LatencyStats : undefined;
}

function rate(all: readonly Measurement[], tool: string, metric: string) {
  const m = all.find((m) => m.tool === tool && m.metric === metric);
  return m?.stats.kind === "rate" ? m.stats as RateStats : undefined;
}

/**
 * Checks the goals: exec below 0.4x of ssh's handshake and within 20 ms of an
 * empty `deno run`; bulk output at least ssh's; echo within 1.5x of ssh;
 * 10,000 idle agents in 1 GiB; all back within 30 s of a relay restart.
 *
 * @example
 * ```ts
 * console.log(goalsTable(checkGoals(log.sorted(), capacity)));
 * ```
 */
export function checkGoals(all: readonly Measurement[], capacity?: CapacityReport): GoalResult[] {
  const exec = latency(all, "cmdop", "exec.new");
  const ssh = latency(all, "ssh", "exec.new");
  const floor = latency(all, "deno", "startup");
  const bulk = rate(all, "cmdop", "bulk");
  const sshBulk = rate(all, "ssh", "bulk");
  const echo = latency(all, "cmdop", "echo");
  const sshEcho = latency(all, "ssh", "echo");
  const ms = (v: number) => `${v.toFixed(1)} ms`;
  const results: GoalResult[] = [
    {
      goal: "exec p50 < 0.4x ssh (full handshake)",
      actual: exec && ssh
        ? `${(exec.p50 / ssh.p50).toFixed(2)}x (${ms(exec.p50)} vs ${ms(ssh.p50)})`
        : "-",
      met: exec && ssh ? exec.p50 < 0.4 * ssh.p50 : undefined,
    },
    {
      goal: "exec p50 <= empty deno run + 20 ms",
      actual: exec && floor
        ? `+${ms(exec.p50 - floor.p50)} (${ms(exec.p50)} vs ${ms(floor.p50)})`
        : "-",
      met: exec && floor ? exec.p50 - floor.p50 <= 20 : undefined,
    },
    {
      goal: "bulk output >= ssh",
      actual: bulk && sshBulk
        ? `${(bulk.mbPerSec / sshBulk.mbPerSec).toFixed(2)}x (${bulk.mbPerSec.toFixed(0)} vs ${
          sshBulk.mbPerSec.toFixed(0)
        } MB/s)`
        : "-",
      met: bulk && sshBulk ? bulk.mbPerSec >= sshBulk.mbPerSec : undefined,
    },
    {
      goal: "keystroke echo p50 <= 1.5x ssh",
      actual: echo && sshEcho
        ? `${(echo.p50 / sshEcho.p50).toFixed(2)}x (${echo.p50.toFixed(3)} vs ${
          sshEcho.p50.toFixed(3)
        } ms)`
        : "-",
      met: echo && sshEcho ? echo.p50 <= 1.5 * sshEcho.p50 : undefined,
    },
  ];
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
