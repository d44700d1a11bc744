/** Tests of the goals check: each goal a ratio to a baseline of the same run. */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { checkGoals, goalsTable } from "./_goals.ts";
import { type Measurement, summarizeLatency, summarizeRate } from "./_stats.ts";

function ms(tool: string, metric: string, p50: number): Measurement {
  return { tool, metric, label: metric, stats: summarizeLatency([p50]) };
}

function mbs(tool: string, metric: string, mbPerSec: number): Measurement {
  return { tool, metric, label: metric, stats: summarizeRate(mbPerSec * 1e6, [1]) };
}

const run: Measurement[] = [
  ms("deno", "startup", 11),
  ms("ssh", "exec.new", 200),
  ms("ssh -J", "exec.new", 400),
  mbs("ssh", "bulk", 600),
  mbs("ssh -J", "bulk", 300),
  ms("ssh", "echo", 0.1),
  ms("ssh -J", "echo", 0.2),
  ms("cmdop", "exec.new", 38),
  ms("cmdop", "exec.new.tls", 45),
  mbs("cmdop", "bulk", 300),
  mbs("cmdop", "bulk.tls", 330),
  ms("cmdop", "echo", 0.7),
  ms("cmdop", "echo.tls", 0.15),
];

describe("checkGoals()", () => {
  it("compares bulk output on the plain relay with ssh and on the TLS relay with ssh -J", () => {
    const goals = checkGoals(run);
    const plain = goals.find((g) => g.goal.startsWith("bulk output, plain relay"))!;
    assert.equal(plain.actual, "0.50x (300 MB/s vs 600 MB/s)");
    assert.equal(plain.met, false);
    const tls = goals.find((g) => g.goal.startsWith("bulk output, TLS relay"))!;
    assert.equal(tls.actual, "1.10x (330 MB/s vs 300 MB/s)");
    assert.equal(tls.met, true);
  });

  it("holds echo to ssh -J and exec to 0.2x ssh and 2x an empty deno run, on both relays", () => {
    const byGoal = new Map(checkGoals(run).map((g) => [g.goal, g]));
    assert.equal(byGoal.get("keystroke echo p50, plain relay <= 1.0x ssh -J")?.met, false);
    assert.equal(
      byGoal.get("keystroke echo p50, TLS relay <= 1.0x ssh -J")?.actual,
      "0.75x (0.150 ms vs 0.200 ms)",
    );
    assert.equal(byGoal.get("keystroke echo p50, TLS relay <= 1.0x ssh -J")?.met, true);
    assert.equal(byGoal.get("exec true p50, plain relay <= 0.2x ssh direct")?.met, true);
    assert.equal(byGoal.get("exec true p50, TLS relay <= 0.2x ssh direct")?.met, false);
    assert.equal(
      byGoal.get("exec true p50, plain relay <= 2.0x empty deno run")?.actual,
      "3.45x (38.0 ms vs 11.0 ms)",
    );
  });

  it("leaves a goal not measured when either figure is missing", () => {
    const goals = checkGoals(run.filter((m) => m.tool !== "ssh -J"));
    const tls = goals.find((g) => g.goal.startsWith("bulk output, TLS relay"))!;
    assert.deepEqual(tls, { goal: "bulk output, TLS relay >= 1.0x ssh -J", actual: "-" });
    assert.match(
      goalsTable(goals),
      /bulk output, TLS relay >= 1\.0x ssh -J +- +not measured/,
    );
  });
});
