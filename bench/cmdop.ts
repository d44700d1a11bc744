/** cmdop's side of the benchmarks: exec round trip, bulk output, keystroke echo and CLI start-up, through the real CLI. */

import { makeCertificates } from "../tests/_tls.ts";
import { ensurePrograms } from "./_apt.ts";
import {
  clientCommand,
  createWorkspace,
  MAIN,
  type RelayProc,
  startAgentProc,
  startRelayProc,
  type TlsFiles,
} from "./_cmdop_stack.ts";
import { repeat, timeBulkRead, timeCommand } from "./_run.ts";
import { type Measurement, summarizeLatency, summarizeRate, TLS_RELAY } from "./_stats.ts";
import { formatBytes } from "./ssh_baseline.ts";

/** Sizes and counts, the same as the OpenSSH baselines get, so figures compare. */
export interface CmdopBenchOptions {
  /** Timed runs per latency figure. */
  runs: number;
  /** Untimed runs before them. */
  warmup: number;
  /** Bytes of `head -c BYTES /dev/zero` in the bulk test. */
  bulkBytes: number;
  /** Bulk transfers (the median counts). */
  bulkRuns: number;
  /** Timed keystrokes in the echo test. */
  keystrokes: number;
  /** Empty scratch dir (relay `--data`, agent `--state`, `CMDOP_HOME`); removed after the run. */
  workDir: string;
}

/** A relay and an agent running on loopback, and how to call the CLI against them. */
export interface CmdopStack {
  /** Command line that runs the CLI, e.g. `[deno, "run", …, "main.ts"]`. */
  cli: string[];
  /** Environment for the CLI: `CMDOP_SERVER`, `CMDOP_API_KEY`, `CMDOP_HOME`. */
  env: Record<string, string>;
  /** Hostname the agent enrolled as. */
  host: string;
  /** The relay process (for the capacity figures). */
  relay: RelayProc;
  /** The workspace's enroll token, for more agents. */
  enrollToken: string;
  /** Stops agent and relay. */
  stop(): Promise<void>;
}

/** Hostname of the benchmark's one real agent. */
export const BENCH_HOST = "bench-host";

/** How the stack's relay is reached. */
export interface RelayOptions {
  /**
   * Serve HTTPS with a certificate from a private CA made for the run (openssl); the agent
   * trusts the CA through `--ca-file`, the CLI through `CMDOP_CA_FILE`, as the README says.
   */
  tls?: boolean;
}

/**
 * Starts `cmdop relay serve` on a free loopback port, creates a workspace and
 * runs `cmdop agent run` enrolled in it, the way `bench/_sshd.ts` starts sshd;
 * over TLS with `{ tls: true }`.
 *
 * @example
 * ```ts
 * const stack = await startCmdop(options);
 * try { … } finally { await stack.stop(); }
 * ```
 */
export async function startCmdop(
  options: CmdopBenchOptions,
  relayOptions: RelayOptions = {},
): Promise<CmdopStack> {
  const tls = relayOptions.tls ? await relayCertificates(`${options.workDir}/certs`) : undefined;
  const relay = await startRelayProc(`${options.workDir}/relay`, 0, tls);
  try {
    const workspace = await createWorkspace(relay.dataDir, "bench");
    const home = `${options.workDir}/home`;
    Deno.mkdirSync(home, { recursive: true });
    const agent = await startAgentProc(
      relay.url,
      workspace.enroll_token,
      BENCH_HOST,
      `${options.workDir}/agent`,
      tls?.ca,
    );
    // Both processes are also SIGKILLed on exit by the cleanup spawnProc registers.
    let stopped: Promise<void> | undefined;
    const stop = () =>
      stopped ??= (async () => {
        await agent.stop();
        await relay.stop();
      })();
    return {
      cli: clientCommand(home, MAIN, tls?.ca),
      env: {
        CMDOP_SERVER: relay.url,
        CMDOP_API_KEY: workspace.api_key,
        CMDOP_HOME: home,
        NO_COLOR: "1",
        ...(tls ? { CMDOP_CA_FILE: tls.ca } : {}),
      },
      host: BENCH_HOST,
      relay,
      enrollToken: workspace.enroll_token,
      stop,
    };
  } catch (error) {
    await relay.stop();
    throw error;
  }
}

/** A private CA (`ca.pem`) and a certificate it signed for 127.0.0.1, as the TLS tests make them. */
async function relayCertificates(dir: string): Promise<TlsFiles & { ca: string }> {
  await ensurePrograms([{ program: "/usr/bin/openssl", pkg: "openssl" }]);
  Deno.mkdirSync(dir, { recursive: true });
  await makeCertificates(dir);
  return { cert: `${dir}/relay.pem`, key: `${dir}/relay.key`, ca: `${dir}/ca.pem` };
}

/**
 * `cmdop connect exec HOST -- true`, one CLI process per run, timed from spawn
 * to exit like `ssh host true`. Metric `exec.new`.
 *
 * @example
 * ```ts
 * const figures = await measureCmdopExec(stack, options);
 * ```
 */
export async function measureCmdopExec(
  stack: CmdopStack,
  options: CmdopBenchOptions,
): Promise<Measurement[]> {
  const args = [...stack.cli.slice(1), "connect", "exec", stack.host, "--", "true"];
  const samples = await repeat(
    options.runs,
    options.warmup,
    () => timeCommand(stack.cli[0], args, { env: stack.env }),
  );
  return [{
    tool: "cmdop",
    metric: "exec.new",
    label: "exec true, new CLI process",
    stats: summarizeLatency(samples),
    details: { command: ["deno", ...args], samplesMs: samples },
  }];
}

/**
 * `cmdop connect exec HOST -- head -c BYTES /dev/zero` read to the end; the
 * rate counts from first to last byte, as for ssh. Metric `bulk`.
 *
 * @example
 * ```ts
 * const figure = await measureCmdopBulk(stack, options);
 * ```
 */
export async function measureCmdopBulk(
  stack: CmdopStack,
  options: CmdopBenchOptions,
): Promise<Measurement> {
  const args = [
    ...stack.cli.slice(1),
    ...["connect", "exec", stack.host, "--timeout", "0", "--"],
    ...["head", "-c", String(options.bulkBytes), "/dev/zero"],
  ];
  const reads = [];
  for (let i = 0; i < options.bulkRuns; i++) {
    reads.push(await timeBulkRead(stack.cli[0], args, options.bulkBytes, { env: stack.env }));
  }
  return {
    tool: "cmdop",
    metric: "bulk",
    label: `bulk output, ${formatBytes(options.bulkBytes)}`,
    stats: summarizeRate(options.bulkBytes, reads.map((r) => r.streamSeconds)),
    details: {
      command: ["deno", ...args],
      streamSeconds: reads.map((r) => r.streamSeconds),
      wallSeconds: reads.map((r) => r.wallSeconds),
    },
  };
}

/**
 * Keystroke echo through `cmdop connect HOST` (`bench/attach_echo.ts`);
 * `undefined` ("not measured") while that module is not there.
 *
 * @example
 * ```ts
 * const figure = await measureCmdopEcho(stack, options);
 * ```
 */
export async function measureCmdopEcho(
  stack: CmdopStack,
  options: CmdopBenchOptions,
): Promise<Measurement | undefined> {
  const url = new URL("./attach_echo.ts", import.meta.url);
  try {
    Deno.statSync(url);
  } catch {
    return undefined;
  }
  const module = await import(url.href);
  if (typeof module.measureAttachEcho !== "function") return undefined;
  return await module.measureAttachEcho(stack, { keystrokes: options.keystrokes });
}

/** Terminal output the pty figures move: within a recording's default cap (64 MiB), so all of it is recorded. */
export const PTY_BULK_BYTES = 64_000_000;

/**
 * Terminal output through `cmdop connect HOST` (`bench/attach_echo.ts`), {@linkcode PTY_BULK_BYTES}
 * at most. Metric `bulk.pty`.
 *
 * @example
 * ```ts
 * const figure = await measureCmdopPtyBulk(stack, options);
 * ```
 */
export async function measureCmdopPtyBulk(
  stack: CmdopStack,
  options: CmdopBenchOptions,
): Promise<Measurement> {
  const { measureAttachBulk } = await import("./attach_echo.ts");
  return await measureAttachBulk(stack, {
    bytes: Math.min(options.bulkBytes, PTY_BULK_BYTES),
    runs: options.bulkRuns,
  });
}

/**
 * Turns session recording on for the stack's workspace (`cmdop relay workspace recording on`),
 * with the relay's default caps: an exec keeps 1 MiB of its output, a terminal 64 MiB.
 *
 * @example
 * ```ts
 * await recordSessions(stack);
 * ```
 */
export async function recordSessions(stack: CmdopStack): Promise<true> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      ...["run", "--quiet", "-A", MAIN, "relay", "workspace", "recording", "on", "bench"],
      ...["--data", stack.relay.dataDir],
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`recording on failed: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  return true;
}

/**
 * A figure taken with recording on, under a metric of its own (`bulk.recorded`, …) so that
 * the goals, which read the first figure of a metric, keep judging the figures without it.
 *
 * @example
 * ```ts
 * const figure = recorded(await measureCmdopBulk(stack, options));
 * ```
 */
export function recorded(m: Measurement): Measurement {
  return { ...m, metric: `${m.metric}.recorded`, label: `${m.label}, recording on` };
}

/**
 * A figure taken against the relay over TLS, under a metric of its own (`bulk.tls`, …), compared
 * with the same figure of `ssh -J` (both encrypted, both through one middle hop).
 *
 * @example
 * ```ts
 * const figure = overTls(await measureCmdopBulk(tlsStack, options));
 * ```
 */
export function overTls(m: Measurement): Measurement {
  return { ...m, metric: `${m.metric}${TLS_RELAY}`, label: `${m.label}, TLS relay` };
}

/**
 * `cmdop --version`: what a CLI call costs before any network, compared with
 * `deno run` of an empty script. Needs no relay. Metric `startup`.
 *
 * @example
 * ```ts
 * const figure = await measureCliStartup(options);
 * ```
 */
export async function measureCliStartup(options: CmdopBenchOptions): Promise<Measurement> {
  const home = `${options.workDir}/home`;
  Deno.mkdirSync(home, { recursive: true });
  const cli = clientCommand(home);
  const args = [...cli.slice(1), "--version"];
  const samples = await repeat(options.runs, options.warmup, () => timeCommand(cli[0], args));
  return {
    tool: "cmdop",
    metric: "startup",
    label: "cmdop --version",
    stats: summarizeLatency(samples),
    details: { command: ["deno", ...args], samplesMs: samples },
  };
}

/**
 * `cmdop connect --list` against the running relay: start-up plus one unary
 * call and a table. Metric `startup`, compared with the empty-script floor.
 *
 * @example
 * ```ts
 * const figure = await measureCliList(stack, options);
 * ```
 */
export async function measureCliList(
  stack: CmdopStack,
  options: CmdopBenchOptions,
): Promise<Measurement> {
  const args = [...stack.cli.slice(1), "connect", "--list"];
  const samples = await repeat(
    options.runs,
    options.warmup,
    () => timeCommand(stack.cli[0], args, { env: stack.env }),
  );
  return {
    tool: "cmdop",
    metric: "startup",
    label: "cmdop connect --list",
    stats: summarizeLatency(samples),
    details: { command: ["deno", ...args], samplesMs: samples },
  };
}
