/** Floors no remote tool can beat here: Deno's own start-up, a local pty's echo and a local pipe's copy rate. */

import { measureEchoOfCommand } from "./_echo.ts";
import { repeat, timeBulkRead, timeCommand } from "./_run.ts";
import { type Measurement, summarizeLatency, summarizeRate } from "./_stats.ts";
import { formatBytes, type RunOptions } from "./ssh_baseline.ts";

/** Bytes and runs of a copy-rate floor: the bulk figures' own sizes. */
export interface CopyFloorOptions {
  bytes: number;
  runs: number;
}

/**
 * `deno run` of an empty script: the least a Deno CLI such as cmdop costs per
 * call. Runs in a temp dir so that no deno.json or lock file is picked up.
 *
 * @example
 * ```ts
 * const m = await measureDenoEmptyScript({ runs: 30, warmup: 3 });
 * ```
 */
export async function measureDenoEmptyScript(
  options: RunOptions,
): Promise<Measurement> {
  const dir = Deno.makeTempDirSync({ prefix: "cmdop-bench-deno-" });
  try {
    const script = `${dir}/empty.ts`;
    Deno.writeTextFileSync(script, "");
    const args = ["run", "--no-config", script];
    const samples = await repeat(
      options.runs,
      options.warmup,
      () => timeCommand(Deno.execPath(), args, { cwd: dir }),
    );
    return {
      tool: "deno",
      metric: "startup",
      label: "deno run, empty script",
      stats: summarizeLatency(samples),
      details: { command: ["deno", ...args], samplesMs: samples },
    };
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/**
 * `deno --version`: start-up of the runtime without loading any module.
 *
 * @example
 * ```ts
 * const m = await measureDenoVersion({ runs: 30, warmup: 3 });
 * ```
 */
export async function measureDenoVersion(
  options: RunOptions,
): Promise<Measurement> {
  const samples = await repeat(
    options.runs,
    options.warmup,
    () => timeCommand(Deno.execPath(), ["--version"]),
  );
  return {
    tool: "deno",
    metric: "startup.version",
    label: "deno --version",
    stats: summarizeLatency(samples),
    details: { command: ["deno", "--version"], samplesMs: samples },
  };
}

/**
 * Keystroke echo of `/bin/sh` in a local pty made by util-linux `script`: what
 * echo costs with no network and no relay in between.
 *
 * @example
 * ```ts
 * const m = await measureLocalPtyEcho({ keystrokes: 300 });
 * ```
 */
export async function measureLocalPtyEcho(
  options: { keystrokes: number },
): Promise<Measurement> {
  const args = ["-qfec", "/bin/sh", "/dev/null"];
  const samples = await measureEchoOfCommand("script", args, {
    keystrokes: options.keystrokes,
    env: { TERM: "dumb", ENV: "" },
  });
  return {
    tool: "pty",
    metric: "echo",
    label: "keystroke echo, local pty",
    stats: summarizeLatency(samples),
    details: { command: ["script", ...args], samplesMs: samples },
  };
}

/**
 * `head -c BYTES /dev/zero | cat > /dev/null` in `sh`: the rate bytes move
 * from one process to another on this machine with no network, no encryption
 * and no framing, the physical limit of every bulk figure. Timed from spawn to
 * exit (the three process starts, ~2 ms, are under 1 % of a 1 GB run). MB/s of
 * the median run.
 *
 * @example
 * ```ts
 * const m = await measurePipeCopy({ bytes: 1e9, runs: 3 });
 * ```
 */
export async function measurePipeCopy(options: CopyFloorOptions): Promise<Measurement> {
  const script = `head -c ${options.bytes} /dev/zero | cat > /dev/null`;
  const seconds: number[] = [];
  for (let i = 0; i < options.runs; i++) {
    seconds.push(await timeCommand("sh", ["-c", script], { timeoutMs: 600_000 }) / 1000);
  }
  return {
    tool: "pipe",
    metric: "bulk",
    label: `pipe copy, head | cat, ${formatBytes(options.bytes)}`,
    stats: summarizeRate(options.bytes, seconds),
    details: { command: ["sh", "-c", script], wallSeconds: seconds },
  };
}

/**
 * `head -c BYTES /dev/zero` read to the end by the bench itself, the way it
 * reads ssh's and cmdop's bulk output: the most any bulk figure here can show.
 *
 * @example
 * ```ts
 * const m = await measurePipeRead({ bytes: 1e9, runs: 3 });
 * ```
 */
export async function measurePipeRead(options: CopyFloorOptions): Promise<Measurement> {
  const args = ["-c", String(options.bytes), "/dev/zero"];
  const reads = [];
  for (let i = 0; i < options.runs; i++) {
    reads.push(await timeBulkRead("head", args, options.bytes));
  }
  return {
    tool: "pipe",
    metric: "bulk",
    label: `pipe read by the bench, ${formatBytes(options.bytes)}`,
    stats: summarizeRate(options.bytes, reads.map((r) => r.streamSeconds)),
    details: {
      command: ["head", ...args],
      streamSeconds: reads.map((r) => r.streamSeconds),
      wallSeconds: reads.map((r) => r.wallSeconds),
    },
  };
}
