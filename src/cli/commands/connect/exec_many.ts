/** `cmdop connect exec --label k=v | --all -- CMD`: one command on every matching machine, a bounded number at a time. */
import { concatBytes } from "../../../lib/bytes.ts";
import type { Machine } from "../../../../gen/cmdop/v1/machine_pb.ts";
import { OUTPUT_STREAM, SESSION_KIND } from "../../../lib/wire/session_codec.ts";
import type { CliContext } from "../../context.ts";
import {
  CliError,
  ExitCode,
  ExitRequest,
  FANOUT_FAILED_EXIT,
  interruptedExitCode,
} from "../../errors.ts";
import { toCliError } from "../../error_mapping.ts";
import type { GlobalOptions, RunState } from "../../globals.ts";
import { describeSelector, labelSelector, selectByLabels } from "../../label_selector.ts";
import { passwordSource } from "../../machine_password.ts";
import { connectRelay, type RelayConnection } from "../../relay_client.ts";
import { type Serialised, serialised } from "../../serialised_output.ts";
import { openSession } from "../../session_client.ts";
import { parseDuration } from "../../duration.ts";
import { LinePrefixer } from "../../ui/line_prefixer.ts";
import { remoteArgv } from "./exec.ts";
import { sortMachines } from "./list.ts";
import { DEFAULT_PARALLEL } from "./exec_many_args.ts";

/** How long past the remote timeout a machine may stay silent before it is given up. */
const CLIENT_GRACE_MS = 10_000;

export interface ExecManyOptions {
  /** `--label key=value` values: machines carrying all of them. */
  labels: string[];
  /** `--all`: every machine of the workspace. */
  all: boolean;
  argv: string[];
  /** Per machine: seconds, or a duration like "90s"; 0 = no limit. Default 30 s. */
  timeout?: string;
  shell?: boolean;
  /** Machines at once; {@linkcode DEFAULT_PARALLEL} by default. */
  parallel?: string;
  /** Print each machine's output in one block once it ends, instead of line by line. */
  group?: boolean;
}

/** How one machine's run ended. */
export interface MachineResult {
  machine: Machine;
  status: "ok" | "failed" | "offline";
  /** The remote status; null when the command did not end by itself (timeout, offline, error). */
  exitCode: number | null;
  stdout: Uint8Array[];
  stderr: Uint8Array[];
  durationMs: number;
  error?: string;
  timedOut?: boolean;
}

/** The name a machine's lines are marked with. */
export function machineName(m: Machine): string {
  return m.displayName || m.hostname;
}

/**
 * Runs the command on every online machine that matches, reports the offline ones, and
 * ends 0 when every machine ran it with status 0, else {@linkcode FANOUT_FAILED_EXIT}.
 */
export async function runExecMany(
  ctx: CliContext,
  globals: GlobalOptions,
  state: RunState,
  options: ExecManyOptions,
): Promise<never> {
  if (options.all && options.labels.length) {
    throw new CliError("give --all or --label, not both", {
      hint: "--all runs on every machine of the workspace; --label narrows it down",
    });
  }
  const selector = labelSelector(options.labels);
  const timeoutMs = parseDuration(options.timeout ?? "30", "--timeout", "s");
  const parallel = parallelOf(options.parallel);
  if (options.argv.length === 0) {
    throw new CliError("no command given", {
      hint: `put it after --: cmdop connect exec ${describeSelector(selector)} -- CMD`,
    });
  }
  const conn = await connectRelay(ctx, globals, state);
  const listed = await conn.machines.listMachines({}, { signal: ctx.signal });
  conn.relayWorkspace = { id: listed.workspaceId, name: listed.workspaceName };
  const matched = sortMachines(selectByLabels(listed.machines, selector));
  if (matched.length === 0) {
    const where = listed.workspaceName ? ` in workspace "${listed.workspaceName}"` : "";
    throw new CliError(
      options.all
        ? `no machine${where} to run on (--all matched none)`
        : `no machine${where} matches ${describeSelector(selector)}`,
      { hint: "see the machines and their labels with: cmdop connect --list" },
    );
  }

  const out = serialised(ctx.stdout);
  const err = serialised(ctx.stderr);
  const report = reporter(globals, options, out, err);
  const collect = globals.json || options.group === true;
  const results = await execOnMachines(
    ctx,
    globals,
    conn,
    matched,
    { argv: options.argv, shell: options.shell, timeoutMs, collect, parallel },
    report,
  );
  await out.done();
  await summarise(err, sortResults(results, matched));
  await err.done();
  if (ctx.signal.aborted) throw new ExitRequest(interruptedExitCode(ctx.signal));
  throw new ExitRequest(results.every((r) => r.status === "ok") ? 0 : FANOUT_FAILED_EXIT);
}

/** How one command is run on each machine. */
export interface MachineRunOptions {
  argv: string[];
  /** Run the words joined as one `sh -c` command line. */
  shell?: boolean;
  /** The remote time limit; 0 = none. */
  timeoutMs: number;
  /** Keep the output in the result (else it only goes to the reporter). */
  collect: boolean;
}

/**
 * Runs the command on every online machine of `machines`, `parallel` at a time, and reports
 * the offline ones without a run; each result goes to `report` as it ends, and all come back
 * in the order they ended.
 *
 * @example
 * ```ts
 * const results = await execOnMachines(ctx, globals, conn, machines, options, report);
 * ```
 */
export async function execOnMachines(
  ctx: CliContext,
  globals: GlobalOptions,
  conn: RelayConnection,
  machines: readonly Machine[],
  options: MachineRunOptions & { parallel: number },
  report: MachineReporter,
): Promise<MachineResult[]> {
  const results: MachineResult[] = [];
  for (const machine of machines.filter((m) => !m.online)) {
    const result = offlineResult(machine);
    results.push(result);
    await report.ended(result);
  }
  const queue = machines.filter((m) => m.online);
  const worker = async () => {
    for (let m = queue.shift(); m; m = queue.shift()) {
      if (ctx.signal.aborted) break;
      const result = await execOnMachine(ctx, globals, conn, m, options, report);
      results.push(result);
      await report.ended(result);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.parallel, queue.length) }, worker));
  return results;
}

/**
 * `--parallel`'s value: a whole number of at least 1, {@linkcode DEFAULT_PARALLEL} when not given.
 *
 * @example
 * ```ts
 * parallelOf("8"); // 8
 * ```
 */
export function parallelOf(text: string | undefined): number {
  if (text === undefined) return DEFAULT_PARALLEL;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    throw new CliError(`--parallel "${text}" is not a whole number of at least 1`, {
      hint: `e.g. --parallel ${DEFAULT_PARALLEL}`,
    });
  }
  return n;
}

function offlineResult(machine: Machine): MachineResult {
  return {
    machine,
    status: "offline",
    exitCode: null,
    stdout: [],
    stderr: [],
    durationMs: 0,
    error: `machine "${machineName(machine)}" is offline`,
  };
}

/** Where a machine's output goes while it runs, and what is said once it ends. */
export interface MachineReporter {
  output(machine: Machine, stderr: boolean, data: Uint8Array): Promise<void>;
  ended(result: MachineResult): Promise<void>;
}

/**
 * Runs the command on one online machine, never prompting (a remembered password works), and
 * says how it ended: a command that could not start, a timeout or an unreachable machine is a
 * result too, never a throw. Output goes to `report` as it comes (`report.ended` is the caller's).
 *
 * @example
 * ```ts
 * const result = await execOnMachine(ctx, globals, conn, machine, options, report);
 * ```
 */
export async function execOnMachine(
  ctx: CliContext,
  globals: GlobalOptions,
  conn: RelayConnection,
  machine: Machine,
  options: MachineRunOptions,
  report: Pick<MachineReporter, "output">,
): Promise<MachineResult> {
  const { timeoutMs } = options;
  const started = ctx.now();
  const result: MachineResult = {
    machine,
    status: "failed",
    exitCode: null,
    stdout: [],
    stderr: [],
    durationMs: 0,
  };
  // Never a prompt: many machines at once cannot share one terminal. Remembered passwords work.
  const passwords = passwordSource(ctx, { ...globals, interactive: false }, conn, machine);
  const guard = timeoutMs > 0 ? AbortSignal.timeout(timeoutMs + CLIENT_GRACE_MS) : undefined;
  try {
    const session = await openSession(
      conn,
      { machineId: machine.id, kind: SESSION_KIND.EXEC, argv: remoteArgv(options), timeoutMs },
      passwords,
      guard ? AbortSignal.any([ctx.signal, guard]) : ctx.signal,
    );
    session.endInput();
    for (;;) {
      const next = await session.frames.next();
      if (next.done) break;
      const msg = next.value.msg;
      if (msg.case === "output") {
        const stderr = msg.value.stream === OUTPUT_STREAM.STDERR;
        // Kept only when printed at the end: streamed lines need no copy.
        if (options.collect) (stderr ? result.stderr : result.stdout).push(msg.value.data);
        await report.output(machine, stderr, msg.value.data);
        session.consumed(msg.value.data.length);
      } else if (msg.case === "exit") {
        const exit = msg.value;
        if (exit.timedOut) {
          result.timedOut = true;
          result.error = `command timed out after ${timeoutMs / 1000}s; ` +
            "the remote process group was killed";
        } else {
          result.exitCode = exit.code;
          if (exit.error) result.error = exit.error;
          if (exit.code === 0 && !exit.error) result.status = "ok";
        }
        break;
      }
    }
    if (result.exitCode === null && !result.timedOut) {
      result.error = ctx.signal.aborted ? "interrupted" : "no answer within the timeout";
    }
  } catch (error) {
    const cliError = toCliError(error, {});
    if (cliError.exitCode === ExitCode.offline) result.status = "offline";
    // A command that could not start (127) has its status like any other.
    if (cliError.exitCode === 126 || cliError.exitCode === 127) result.exitCode = cliError.exitCode;
    result.error = ctx.signal.aborted ? "interrupted" : cliError.message;
  }
  result.durationMs = ctx.now() - started;
  return result;
}

/** The output of each mode: lines marked with the machine (default), blocks (`--group`), NDJSON (`--json`). */
function reporter(
  globals: GlobalOptions,
  options: ExecManyOptions,
  out: Serialised,
  err: Serialised,
): MachineReporter {
  const decoder = new TextDecoder();
  if (globals.json) {
    return {
      output: () => Promise.resolve(),
      ended: (r) => out.write(JSON.stringify(envelope(r, decoder)) + "\n"),
    };
  }
  if (options.group) {
    return {
      output: () => Promise.resolve(),
      async ended(r) {
        const head = `=== ${machineName(r.machine)} (${outcome(r)}) ===\n`;
        await out.write(head + withNewline(decoder.decode(concatBytes(r.stdout))));
        const errors = withNewline(decoder.decode(concatBytes(r.stderr)));
        if (errors) await err.write(head + errors);
      },
    };
  }
  const lines = new Map<string, { out: LinePrefixer; err: LinePrefixer }>();
  const of = (m: Machine) => {
    let pair = lines.get(m.id);
    if (!pair) {
      const prefix = `${machineName(m)} | `;
      lines.set(m.id, pair = { out: new LinePrefixer(prefix), err: new LinePrefixer(prefix) });
    }
    return pair;
  };
  return {
    async output(machine, stderr, data) {
      const pair = of(machine);
      const whole = (stderr ? pair.err : pair.out).push(data);
      if (whole.length) await (stderr ? err : out).write(whole);
    },
    async ended(r) {
      const pair = of(r.machine);
      const rest = pair.out.flush();
      if (rest.length) await out.write(rest);
      const restErr = pair.err.flush();
      if (restErr.length) await err.write(restErr);
      if (r.status !== "ok" && r.error) {
        await err.write(`${machineName(r.machine)} | error: ${r.error}\n`);
      }
    },
  };
}

/** The spec's exec envelope plus the machine it ran on. */
function envelope(r: MachineResult, decoder: TextDecoder): Record<string, unknown> {
  const shape: Record<string, unknown> = {
    machine: machineName(r.machine),
    machine_id: r.machine.id,
    stdout: decoder.decode(concatBytes(r.stdout)),
    stderr: decoder.decode(concatBytes(r.stderr)),
    exit_code: r.exitCode,
    duration_ms: r.durationMs,
  };
  if (r.status === "offline") shape.offline = true;
  if (r.timedOut) shape.timed_out = true;
  if (r.error) shape.error = r.error;
  return shape;
}

function outcome(r: MachineResult): string {
  if (r.status === "offline") return "offline";
  if (r.timedOut) return "timed out";
  return r.exitCode === null ? "failed" : `exit ${r.exitCode}`;
}

/** Results in the inventory's order. */
function sortResults(results: MachineResult[], order: Machine[]): MachineResult[] {
  const index = new Map(order.map((m, i) => [m.id, i]));
  return [...results].sort((a, b) => index.get(a.machine.id)! - index.get(b.machine.id)!);
}

/** The closing lines on stderr: counts, then every machine that did not succeed and why. */
async function summarise(err: Serialised, results: MachineResult[]): Promise<void> {
  const count = (s: MachineResult["status"]) => results.filter((r) => r.status === s).length;
  const lines = [
    `${results.length} machines: ${count("ok")} ok, ${count("failed")} failed, ` +
    `${count("offline")} offline`,
  ];
  const failed = results.filter((r) => r.status !== "ok");
  const width = Math.max(0, ...failed.map((r) => machineName(r.machine).length));
  for (const r of failed) {
    const why = r.error && r.status !== "offline" ? `: ${r.error}` : "";
    lines.push(`  ${machineName(r.machine).padEnd(width)}  ${outcome(r)}${why}`);
  }
  await err.write(lines.join("\n") + "\n");
}

function withNewline(text: string): string {
  return text && !text.endsWith("\n") ? text + "\n" : text;
}
