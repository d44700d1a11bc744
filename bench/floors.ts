/** Floors no remote tool can beat here: Deno's own start-up and a local pty's echo. */

import { measureEchoOfCommand } from "./_echo.ts";
import { repeat, timeCommand } from "./_run.ts";
import { type Measurement, summarizeLatency } from "./_stats.ts";
import type { RunOptions } from "./ssh_baseline.ts";

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
