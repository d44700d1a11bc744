/** Percentiles, rates, the results table and the JSON result files of the benchmarks. */

/** Latency figures of a series of samples, in milliseconds. */
export interface LatencyStats {
  kind: "latency";
  unit: "ms";
  n: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Throughput of one or more transfers; `mbPerSec` is the median run, MB = 10^6 bytes. */
export interface RateStats {
  kind: "rate";
  unit: "MB/s";
  /** Bytes moved in each run. */
  bytes: number;
  /** MB/s of each run, in run order. */
  runs: number[];
  mbPerSec: number;
}

/**
 * One figure of one tool. Rows that share a `metric` are compared: a cmdop row
 * is shown as a ratio to the ssh row (or other baseline) with the same metric.
 */
export interface Measurement {
  /** `ssh`, `cmdop`, `deno`, `pty`, … */
  tool: string;
  /** Stable id of what is measured, e.g. `exec.new`, `bulk`, `echo`, `startup`. */
  metric: string;
  /** Human description, e.g. `exec round trip, new connection`. */
  label: string;
  stats: LatencyStats | RateStats;
  /** How it was measured, for the JSON file. */
  details?: Record<string, unknown>;
}

/**
 * The p-th percentile (0–100) of samples, interpolating linearly between the
 * closest ranks (R's type 7, numpy's default), so small series are not
 * rounded to whichever sample sits nearest.
 *
 * @example
 * ```ts
 * percentile([1, 2, 3, 4], 50); // 2.5
 * ```
 */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) {
    throw new Error(`No samples to take the "p${p}" of`);
  }
  if (!(p >= 0 && p <= 100)) {
    throw new Error(`Percentile "${p}" is not between 0 and 100`);
  }
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}

/**
 * Summarizes latency samples given in milliseconds.
 *
 * @example
 * ```ts
 * summarizeLatency([10, 12, 11]).p50; // 11
 * ```
 */
export function summarizeLatency(samplesMs: readonly number[]): LatencyStats {
  if (samplesMs.length === 0) {
    throw new Error("No latency samples to summarize");
  }
  return {
    kind: "latency",
    unit: "ms",
    n: samplesMs.length,
    min: Math.min(...samplesMs),
    mean: samplesMs.reduce((a, b) => a + b, 0) / samplesMs.length,
    p50: percentile(samplesMs, 50),
    p90: percentile(samplesMs, 90),
    p99: percentile(samplesMs, 99),
    max: Math.max(...samplesMs),
  };
}

/**
 * Summarizes transfers of `bytes` bytes each, given their durations in seconds.
 *
 * @example
 * ```ts
 * summarizeRate(1e9, [2, 2.5]).mbPerSec; // 444.4…
 * ```
 */
export function summarizeRate(
  bytes: number,
  seconds: readonly number[],
): RateStats {
  if (seconds.length === 0) throw new Error("No transfers to summarize");
  const runs = seconds.map((s) => bytes / 1e6 / s);
  return {
    kind: "rate",
    unit: "MB/s",
    bytes,
    runs,
    mbPerSec: percentile(runs, 50),
  };
}

/**
 * Lays out rows as a fixed-width table; columns listed in `alignRight` are right-aligned.
 *
 * @example
 * ```ts
 * formatTable(["tool", "p50"], [["ssh", "1.2"]], [1]);
 * ```
 */
export function formatTable(
  header: string[],
  rows: string[][],
  alignRight: number[] = [],
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => alignRight.includes(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))
      .join("  ")
      .trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  return [
    line(header),
    rule,
    ...rows.map((r) => line(header.map((_, i) => r[i] ?? ""))),
  ].join("\n");
}

/**
 * The comparison table of all measurements: latency percentiles or rate, and
 * for cmdop rows the ratio to the baseline row of the same metric (p50 ratio
 * for latency, rate ratio for throughput).
 *
 * @example
 * ```ts
 * console.log(measurementTable([sshExec, cmdopExec])); // cmdop row ends "1.20x ssh"
 * ```
 */
export function measurementTable(measurements: readonly Measurement[]): string {
  const rows = measurements.map((m) => {
    const s = m.stats;
    const base = m.tool === "cmdop" ? baselineFor(m, measurements) : undefined;
    const ratio = base ? ratioText(m, base) : "";
    if (s.kind === "latency") {
      return [
        m.tool,
        m.label,
        ms(s.p50),
        ms(s.p90),
        ms(s.p99),
        "",
        String(s.n),
        ratio,
      ];
    }
    return [
      m.tool,
      m.label,
      "",
      "",
      "",
      `${s.mbPerSec.toFixed(0)} MB/s`,
      String(s.runs.length),
      ratio,
    ];
  });
  return formatTable(
    [
      "tool",
      "metric",
      "p50 ms",
      "p90 ms",
      "p99 ms",
      "rate",
      "n",
      "vs baseline",
    ],
    rows,
    [2, 3, 4, 5, 6, 7],
  );
}

/** The metric suffix of figures taken with session recording on (`bulk.recorded`). */
const RECORDED = ".recorded";

/** The metric suffix of cmdop's figures against a relay serving HTTPS (`bulk.tls`). */
export const TLS_RELAY = ".tls";

/**
 * The row a cmdop figure is compared with: ssh first, else any non-cmdop row
 * of the same metric and kind (the deno floor for `startup`); a figure with recording on,
 * the same figure with it off; a figure against the relay over TLS, `ssh -J` (both
 * encrypted, both through one hop in the middle), else ssh.
 *
 * @example
 * ```ts
 * baselineFor(cmdopEcho, all)?.tool; // "ssh"
 * ```
 */
export function baselineFor(
  m: Measurement,
  all: readonly Measurement[],
): Measurement | undefined {
  // A figure with session recording on is compared with the same figure without it.
  if (m.metric.endsWith(RECORDED)) {
    const label = m.label.replace(/, recording on$/, "");
    return all.find((o) =>
      o.metric === m.metric.slice(0, -RECORDED.length) && o.label === label &&
      o.stats.kind === m.stats.kind
    );
  }
  const tls = m.metric.endsWith(TLS_RELAY);
  const metric = tls ? m.metric.slice(0, -TLS_RELAY.length) : m.metric;
  const same = all.filter((o) =>
    o.metric === metric && o.tool !== "cmdop" && o.stats.kind === m.stats.kind
  );
  const ssh = same.find((o) => o.tool === "ssh");
  return (tls ? same.find((o) => o.tool === "ssh -J") ?? ssh : ssh) ?? same[0];
}

/**
 * The load average (1, 5 and 15 minutes) from `/proc/loadavg`; `undefined` where there is none.
 * The machine is shared: figures are read next to the load they were taken under.
 *
 * @example
 * ```ts
 * loadAverage(); // [0.77, 0.37, 0.9]
 * ```
 */
export function loadAverage(): [number, number, number] | undefined {
  try {
    const [one, five, fifteen] = Deno.readTextFileSync("/proc/loadavg").split(" ").map(Number);
    return [one, five, fifteen];
  } catch {
    return undefined;
  }
}

function ratioText(m: Measurement, base: Measurement): string {
  const r = m.stats.kind === "latency" && base.stats.kind === "latency"
    ? m.stats.p50 / base.stats.p50
    : m.stats.kind === "rate" && base.stats.kind === "rate"
    ? m.stats.mbPerSec / base.stats.mbPerSec
    : NaN;
  return `${r.toFixed(2)}x ${m.metric.endsWith(RECORDED) ? "recording off" : base.tool}`;
}

function ms(v: number): string {
  return v < 10 ? v.toFixed(3) : v < 100 ? v.toFixed(2) : v.toFixed(1);
}

/** What the figures were measured on. */
export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  os: string;
  kernel: string;
  deno: string;
  v8: string;
  date: string;
}

/**
 * Describes this machine: CPU model (from /proc/cpuinfo), cores, memory, OS and Deno version.
 *
 * @example
 * ```ts
 * console.log(machineInfo().cpuModel);
 * ```
 */
export function machineInfo(): MachineInfo {
  let cpuModel = "unknown";
  try {
    const line = Deno.readTextFileSync("/proc/cpuinfo").split("\n").find((l) =>
      l.startsWith("model name")
    );
    if (line) cpuModel = line.slice(line.indexOf(":") + 1).trim();
  } catch { /* not Linux */ }
  return {
    cpuModel,
    cores: navigator.hardwareConcurrency,
    memoryGiB: Math.round(Deno.systemMemoryInfo().total / 2 ** 30 * 10) / 10,
    os: `${Deno.build.os} ${Deno.build.arch}`,
    kernel: Deno.osRelease(),
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    date: new Date().toISOString(),
  };
}

/** Where result files go: `bench/results/`. */
export const RESULTS_DIR: URL = new URL("./results/", import.meta.url);

/**
 * Writes `bench/results/<name>.json` with the machine info and `data`; returns its path.
 *
 * @example
 * ```ts
 * await writeResult("ssh_exec", { measurements: [] });
 * ```
 */
export async function writeResult(
  name: string,
  data: Record<string, unknown>,
): Promise<string> {
  if (!/^[\w.-]+$/.test(name)) {
    throw new Error(`Result name "${name}" is not a plain file name`);
  }
  await Deno.mkdir(RESULTS_DIR, { recursive: true });
  const url = new URL(`${name}.json`, RESULTS_DIR);
  await Deno.writeTextFile(
    url,
    JSON.stringify({ machine: machineInfo(), ...data }, null, 2) + "\n",
  );
  return decodeURIComponent(url.pathname);
}
