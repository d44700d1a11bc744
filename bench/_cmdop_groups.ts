/** The cmdop groups of `make bench`: CLI figures on one relay and agent, relay capacity, and the relay cluster. */

import { registerCleanup } from "./_cleanup.ts";
import type { RunLog } from "./_report.ts";
import { type CapacityReport, measureCapacity } from "./capacity.ts";
import {
  type CmdopBenchOptions,
  measureCliList,
  measureCliStartup,
  measureCmdopBulk,
  measureCmdopEcho,
  measureCmdopExec,
  measureCmdopPtyBulk,
  overTls,
  recorded,
  recordSessions,
  startCmdop,
} from "./cmdop.ts";
import { measureCmdopCopy } from "./copy.ts";
import { measureCmdopForward } from "./forward.ts";
import { measureStartupVariants } from "./startup.ts";
import type { Measurement } from "./_stats.ts";

/** The sizes every group gets from the command line. */
export type BenchSettings = Omit<CmdopBenchOptions, "workDir">;

/** Runs `step` with a scratch dir that is removed afterwards, also on Ctrl-C. */
async function withWorkDir<T>(step: (dir: string) => Promise<T>): Promise<T> {
  const dir = Deno.makeTempDirSync({ prefix: "cmdop-bench-" });
  const remove = registerCleanup(() => Deno.removeSync(dir, { recursive: true }));
  try {
    return await step(dir);
  } finally {
    remove();
  }
}

/**
 * cmdop's figures through the real CLI, relay and agent; a failing figure
 * does not cost the others.
 *
 * @example
 * ```ts
 * await measureCmdopGroup(log, settings);
 * ```
 */
export function measureCmdopGroup(log: RunLog, settings: BenchSettings): Promise<void> {
  return withWorkDir(async (workDir) => {
    const options = { ...settings, workDir };
    await log.measure("cmdop --version", () => measureCliStartup(options));
    await measureOverHttp(log, options);
    await measureOverTls(log, { ...options, workDir: `${workDir}/tls` });
  });
}

/** Every CLI figure against a relay serving plain HTTP, then again with session recording on. */
async function measureOverHttp(log: RunLog, options: CmdopBenchOptions): Promise<void> {
  const stack = await log.attempt("starting cmdop relay and agent", () => startCmdop(options));
  if (!stack) {
    log.skipped.push(
      "cmdop exec",
      "cmdop connect --list",
      "cmdop bulk output",
      "cmdop file copy",
      "cmdop port forward",
      "cmdop keystroke echo",
      "cmdop pty output",
      "cmdop figures with recording on",
    );
    return;
  }
  try {
    await log.measure("cmdop exec", () => measureCmdopExec(stack, options));
    await log.measure("cmdop connect --list", () => measureCliList(stack, options));
    await log.measure("cmdop bulk output", () => measureCmdopBulk(stack, options));
    await log.measure(
      "cmdop file copy",
      () => measureCmdopCopy(stack, { bytes: options.bulkBytes, runs: options.bulkRuns }),
    );
    await log.measure(
      "cmdop port forward",
      () => measureCmdopForward(stack, { bytes: options.bulkBytes, runs: options.bulkRuns }),
    );
    await log.measure("cmdop keystroke echo", () => measureCmdopEcho(stack, options));
    await log.measure("cmdop pty output", () => measureCmdopPtyBulk(stack, options));
    await log.measure("cmdop start-up variants", () => measureStartupVariants(stack, options));
    // The same figures with the workspace's sessions recorded: recording must not slow them.
    if (await log.attempt("turning session recording on", () => recordSessions(stack))) {
      const on = async (m: Promise<Measurement | undefined>) => {
        const figure = await m;
        return figure && recorded(figure);
      };
      await log.measure(
        "cmdop exec, recording on",
        async () => (await measureCmdopExec(stack, options)).map(recorded),
      );
      await log.measure(
        "cmdop bulk output, recording on",
        () => on(measureCmdopBulk(stack, options)),
      );
      await log.measure(
        "cmdop pty output, recording on",
        () => on(measureCmdopPtyBulk(stack, options)),
      );
      await log.measure(
        "cmdop keystroke echo, recording on",
        () => on(measureCmdopEcho(stack, options)),
      );
    }
  } finally {
    await stack.stop();
  }
}

/** exec, bulk output and keystroke echo again, against a relay serving HTTPS. */
async function measureOverTls(log: RunLog, options: CmdopBenchOptions): Promise<void> {
  Deno.mkdirSync(options.workDir);
  const stack = await log.attempt(
    "starting cmdop relay over TLS and agent",
    () => startCmdop(options, { tls: true }),
  );
  if (!stack) {
    log.skipped.push("cmdop figures over TLS");
    return;
  }
  const tls = async (m: Promise<Measurement | undefined>) => {
    const figure = await m;
    return figure && overTls(figure);
  };
  try {
    await log.measure(
      "cmdop exec, TLS relay",
      async () => (await measureCmdopExec(stack, options)).map(overTls),
    );
    await log.measure("cmdop bulk output, TLS relay", () => tls(measureCmdopBulk(stack, options)));
    await log.measure(
      "cmdop keystroke echo, TLS relay",
      () => tls(measureCmdopEcho(stack, options)),
    );
  } finally {
    await stack.stop();
  }
}

/**
 * Relay capacity with `agents` simulated agents (10,000 in a full run).
 *
 * @example
 * ```ts
 * const report = await measureCapacityGroup(log, { agents: 10_000, execSeconds: 5 });
 * ```
 */
export function measureCapacityGroup(
  log: RunLog,
  sizes: { agents: number; execSeconds: number },
): Promise<CapacityReport | undefined> {
  return log.attempt(
    `relay capacity, ${sizes.agents} agents`,
    () => withWorkDir((workDir) => measureCapacity({ ...sizes, clients: [1, 10, 100], workDir })),
  );
}

/**
 * The relay cluster's figures from `bench/cluster.ts` (exec round trip and
 * bulk, same node and cross node); skipped when that module is not there.
 *
 * @example
 * ```ts
 * await measureClusterGroup(log, settings);
 * ```
 */
export async function measureClusterGroup(log: RunLog, settings: BenchSettings): Promise<void> {
  const url = new URL("./cluster.ts", import.meta.url);
  try {
    Deno.statSync(url);
  } catch {
    log.skipped.push("relay cluster");
    return;
  }
  await log.measure("relay cluster", async () => {
    const cluster = await import(url.href);
    if (typeof cluster.runClusterBench !== "function") return undefined;
    return await cluster.runClusterBench({
      runs: Math.min(settings.runs, 30),
      warmup: settings.warmup,
      bulkBytes: settings.bulkBytes,
      bulkRuns: settings.bulkRuns,
    });
  });
}
