/** Tests of the percentile, summary and table helpers of the benchmarks. */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  baselineFor,
  formatTable,
  type Measurement,
  measurementTable,
  percentile,
  summarizeLatency,
  summarizeRate,
} from "./_stats.ts";

describe("percentile()", () => {
  it("interpolates between the closest ranks", () => {
    assert.equal(percentile([1, 2, 3, 4], 50), 2.5);
    assert.equal(percentile([4, 1, 3, 2], 0), 1);
    assert.equal(percentile([4, 1, 3, 2], 100), 4);
    assert.ok(Math.abs(percentile([10, 20], 90) - 19) < 1e-9);
  });

  it("returns the only sample of a series of one", () => {
    assert.equal(percentile([7], 99), 7);
  });

  it("rejects an empty series and a percentile outside 0–100", () => {
    assert.throws(() => percentile([], 50), /No samples to take the "p50" of/);
    assert.throws(
      () => percentile([1], 101),
      /Percentile "101" is not between 0 and 100/,
    );
  });
});

describe("summarizeLatency()", () => {
  it("reports count, extremes, mean and percentiles", () => {
    const s = summarizeLatency([3, 1, 2]);
    assert.deepEqual(
      { n: s.n, min: s.min, max: s.max, mean: s.mean, p50: s.p50 },
      { n: 3, min: 1, max: 3, mean: 2, p50: 2 },
    );
  });
});

describe("summarizeRate()", () => {
  it("takes the median run in MB/s of 10^6 bytes", () => {
    const s = summarizeRate(1e9, [1, 2, 4]);
    assert.deepEqual(s.runs, [1000, 500, 250]);
    assert.equal(s.mbPerSec, 500);
  });
});

describe("formatTable()", () => {
  it("pads columns to their widest cell and right-aligns the numeric ones", () => {
    const text = formatTable(["tool", "p50"], [["ssh", "1.5"], [
      "cmdop",
      "12.25",
    ]], [1]);
    assert.equal(
      text,
      ["tool     p50", "-----  -----", "ssh      1.5", "cmdop  12.25"].join(
        "\n",
      ),
    );
  });
});

describe("measurementTable()", () => {
  const latency = (tool: string, p50: number): Measurement => ({
    tool,
    metric: "exec.new",
    label: "exec",
    stats: {
      kind: "latency",
      unit: "ms",
      n: 1,
      min: p50,
      mean: p50,
      p50,
      p90: p50,
      p99: p50,
      max: p50,
    },
  });

  it("shows a cmdop figure as a ratio to the ssh figure of the same metric", () => {
    const rows = [latency("ssh", 100), latency("cmdop", 50)];
    assert.equal(baselineFor(rows[1], rows), rows[0]);
    assert.match(measurementTable(rows), /cmdop .* 0\.50x ssh$/m);
  });

  it("compares a figure against the TLS relay with ssh -J, and the plain one with ssh", () => {
    const tls = { ...latency("cmdop", 60), metric: "exec.new.tls" };
    const rows = [latency("ssh", 100), latency("ssh -J", 200), latency("cmdop", 50), tls];
    assert.equal(baselineFor(rows[2], rows), rows[0]);
    assert.equal(baselineFor(tls, rows), rows[1]);
    assert.match(measurementTable(rows), /cmdop .* 0\.30x ssh -J$/m);
    assert.equal(baselineFor(tls, [rows[0], tls]), rows[0]);
  });

  it("shows no ratio when no baseline of the metric exists", () => {
    const rows = [latency("cmdop", 50)];
    assert.equal(baselineFor(rows[0], rows), undefined);
    assert.doesNotMatch(measurementTable(rows), /x ssh/);
  });
});
