/** Test harness: the real relay, agents and CLI as subprocesses on loopback ports. */
import { createClient } from "@connectrpc/connect";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { MachineService } from "../gen/cmdop/v1/machine_pb.ts";
import { createRelayTransport } from "../src/lib/transport.ts";
import { forgetLoggedProcesses, type LoggedProcess, logTails, rememberProcess } from "./_logs.ts";

export { logTails } from "./_logs.ts";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const MAIN = join(ROOT, "main.ts");
const DENO = Deno.execPath();

/** Where every process a test started is tracked, so a failing test leaves none behind. */
const live = new Set<Deno.ChildProcess>();

export interface Workspace {
  workspace_id: string;
  name: string;
  api_key: string;
  enroll_token: string;
}

/** A relay process. */
export interface RelayProcess {
  url: string;
  pid: number;
  dataDir: string;
  stderr(): string;
  /** SIGTERM and wait. */
  stop(): Promise<void>;
  /** SIGKILL and wait (a crash). */
  kill(): Promise<void>;
  createWorkspace(name: string): Promise<Workspace>;
}

/** Collects a stream's text while the process runs. */
function collect(stream: ReadableStream<Uint8Array>): { text: () => string; done: Promise<void> } {
  let text = "";
  const decoder = new TextDecoder();
  const done = (async () => {
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  })().catch(() => {});
  return { text: () => text, done };
}

/** A started process's collected output, and how to end it. */
interface Watched {
  stderr(): string;
  /** Waits until stderr matches `pattern`, or fails with `what` and the stderr so far. */
  waitForStderr(what: string, pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** SIGTERM and wait. */
  stop(): Promise<void>;
  /** SIGKILL and wait (a crash). */
  kill(): Promise<void>;
}

/**
 * Collects a child's stdout and stderr until it exits; `name` labels it in failures, where the
 * last lines of every relay and agent of the test file are shown (see `logTails`).
 */
function watch(child: Deno.ChildProcess, name: string): Watched & { logged: LoggedProcess } {
  const stderr = collect(child.stderr);
  const stdout = collect(child.stdout);
  let exitCode: number | undefined;
  // Set once the output is read to its end too, so that a last line is never judged missing.
  let ended = false;
  child.status.then(async (status) => {
    exitCode = status.code;
    await stderr.done;
    ended = true;
  }, () => {});
  const logged: LoggedProcess = {
    name,
    pid: child.pid,
    stderr: stderr.text,
    exitCode: () => exitCode,
  };
  rememberProcess(logged);
  const end = async (signal: Deno.Signal) => {
    try {
      child.kill(signal);
    } catch { /* already gone */ }
    await child.status;
    await Promise.all([stderr.done, stdout.done]);
  };
  return {
    logged,
    stderr: stderr.text,
    waitForStderr: (what, pattern, timeoutMs) =>
      waitFor(what, () => pattern.test(stderr.text()) || ended, timeoutMs)
        .then(() => {
          if (pattern.test(stderr.text())) return;
          throw new Error(`${logged.name} exited with ${exitCode} before ${what}${logTails(40)}`);
        }),
    stop: () => end("SIGTERM"),
    kill: () => end("SIGKILL"),
  };
}

/**
 * Polls `predicate` every 50 ms until it holds; after `timeoutMs` (30 s by default: generous, so
 * that it holds on a machine several times slower and busy) fails naming `what` was waited for,
 * with the last log lines of the test file's relays and agents.
 *
 * @example
 * ```ts
 * await waitFor("the shell to be gone", async () => !(await processAlive(pid)));
 * ```
 */
export async function waitFor(
  what: string,
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const started = Date.now();
  while (!(await predicate())) {
    if (Date.now() - started > timeoutMs) {
      throw new Error(`timed out after ${seconds(timeoutMs)} waiting for ${what}${logTails()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)} s`;
}

function spawnCmdop(
  args: string[],
  options: { env?: Record<string, string>; stdin?: "piped" | "null"; fdLimit?: number } = {},
) {
  const argv = [DENO, "run", "-A", "--quiet", MAIN, ...args];
  // `exec` keeps the pid: the process a test watches is the relay itself.
  const limited = options.fdLimit
    ? ["bash", "-c", `ulimit -n ${options.fdLimit} && exec "$@"`, "bash", ...argv]
    : argv;
  const child = new Deno.Command(limited[0], {
    args: limited.slice(1),
    env: { NO_COLOR: "1", ...options.env },
    stdin: options.stdin ?? "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  live.add(child);
  child.status.then(() => live.delete(child));
  return child;
}

/**
 * Starts `cmdop relay serve` on a free loopback port and waits for its
 * "listening on" line.
 */
export async function startRelay(
  options: {
    dataDir?: string;
    listen?: string;
    extraArgs?: string[];
    /** Extra environment, e.g. `CMDOP_RELAY_CLOCK_FILE` for a test clock. */
    env?: Record<string, string>;
    /** Lowers the relay's limit on open files, soft and hard (Deno raises soft to hard itself). */
    fdLimit?: number;
  } = {},
): Promise<RelayProcess> {
  const dataDir = options.dataDir ?? await Deno.makeTempDir({ prefix: "cmdop-relay-" });
  const child = spawnCmdop([
    "relay",
    "serve",
    "--listen",
    options.listen ?? "127.0.0.1:0",
    "--data",
    dataDir,
    ...(options.extraArgs ?? []),
  ], { env: options.env, fdLimit: options.fdLimit });
  const { stderr, waitForStderr, stop, kill, logged } = watch(child, "relay");
  await waitForStderr("the relay to listen", /listening on http/, 60_000);
  const url = /listening on (http\S+)/.exec(stderr())![1];
  logged.name = `relay ${url}`;
  return {
    url,
    pid: child.pid,
    dataDir,
    stderr,
    stop,
    kill,
    createWorkspace: (name) => createWorkspace(dataDir, name),
  };
}

/** `cmdop relay workspace create NAME --data DIR --json`. */
export async function createWorkspace(dataDir: string, name: string): Promise<Workspace> {
  const result = await runCmdop([
    "relay",
    "workspace",
    "create",
    name,
    "--data",
    dataDir,
    "--json",
  ]);
  if (result.code !== 0) throw new Error(`workspace create failed: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

/**
 * The variable every agent the harness starts has in its environment, and so every command and
 * terminal it runs: its marker (the hostname unless given), so a test can check which machine
 * ran a command (`hostname` is the same for all agents on this machine).
 */
export const MACHINE_VARIABLE = "CMDOP_TEST_MACHINE";

/** An agent process. */
export interface AgentProcess {
  pid: number;
  /** What `$CMDOP_TEST_MACHINE` reads in its commands. */
  marker: string;
  stateDir: string;
  stderr(): string;
  stop(): Promise<void>;
  kill(): Promise<void>;
}

/** Starts `cmdop agent run` and waits until it reports itself online. */
export async function startAgent(
  relayUrl: string,
  enrollToken: string,
  options: {
    hostname: string;
    displayName?: string;
    stateDir?: string;
    password?: string;
    waitOnline?: boolean;
    /** Its {@linkcode MACHINE_VARIABLE}; the hostname by default. */
    marker?: string;
    /** `--ca-file`: a private CA for an `https://` relay. */
    caFile?: string;
    /** `--label` values, e.g. `["role=web", "env=prod"]`. */
    labels?: string[];
    /** More flags of `agent run`, e.g. `["--max-sessions", "4"]`. */
    extraArgs?: string[];
  },
): Promise<AgentProcess> {
  const marker = options.marker ?? options.hostname;
  const stateDir = options.stateDir ?? await Deno.makeTempDir({ prefix: "cmdop-agent-" });
  const args = [
    "agent",
    "run",
    "--server",
    relayUrl,
    "--enroll-token",
    enrollToken,
    "--state",
    stateDir,
    "--hostname",
    options.hostname,
  ];
  if (options.displayName) args.push("--display-name", options.displayName);
  if (options.caFile) args.push("--ca-file", options.caFile);
  if (options.password !== undefined) args.push("--password-stdin");
  args.push(...(options.labels ?? []).flatMap((label) => ["--label", label]));
  args.push(...(options.extraArgs ?? []));
  const child = spawnCmdop(args, {
    // Terminals open bash without the machine's dotfiles (see tests/_login_shell.sh).
    env: { [MACHINE_VARIABLE]: marker, SHELL: join(ROOT, "tests", "_login_shell.sh") },
    stdin: options.password !== undefined ? "piped" : "null",
  });
  if (options.password !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.password + "\n"));
    await writer.close();
  }
  const { stderr, waitForStderr, stop, kill } = watch(child, `agent ${options.hostname}`);
  if (options.waitOnline !== false) {
    await waitForStderr(`agent "${options.hostname}" to come online`, /online as machine/, 60_000);
  }
  return { pid: child.pid, marker, stateDir, stderr, stop, kill };
}

export interface CmdopResult {
  code: number;
  stdout: string;
  stderr: string;
  stdoutBytes: Uint8Array;
}

/** Options of {@linkcode runCmdop}. */
export interface RunOptions {
  env?: Record<string, string>;
  stdin?: Uint8Array | string;
  /** How long it may take before it is killed and the test fails: 60 s by default. */
  timeoutMs?: number;
  /** What the run waits for, for the failure message; the command line by default. */
  what?: string;
}

/**
 * Runs the CLI to completion. A run that outlives its deadline is killed (SIGKILL) and fails
 * naming the command, what it waited for, its output so far and the relays' and agents' last
 * log lines: one hang never eats the whole suite.
 *
 * @example
 * ```ts
 * const r = await runCmdop(["connect", "exec", "web-1", "--", "true"], { env });
 * assert.equal(r.code, 0, r.stderr);
 * ```
 */
export async function runCmdop(args: string[], options: RunOptions = {}): Promise<CmdopResult> {
  const child = spawnCmdop(args, {
    env: options.env,
    stdin: options.stdin !== undefined ? "piped" : "null",
  });
  const stdout = readAll(child.stdout);
  const stderr = readAll(child.stderr);
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    const bytes = typeof options.stdin === "string"
      ? new TextEncoder().encode(options.stdin)
      : options.stdin;
    await writer.write(bytes).catch(() => {});
    await writer.close().catch(() => {});
  }
  const timeoutMs = options.timeoutMs ?? 60_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  const status = await Promise.race([child.status, timedOut]);
  clearTimeout(timer);
  if (status === "timeout") {
    try {
      child.kill("SIGKILL");
    } catch { /* ended meanwhile */ }
    await child.status;
    const decoder = new TextDecoder();
    const what = options.what ? ` (waiting for ${options.what})` : "";
    throw new Error(
      `cmdop ${args.join(" ")} did not finish within ${seconds(timeoutMs)}${what}; ` +
        `its stdout so far:\n${decoder.decode((await stdout).slice(-4000))}\n` +
        `its stderr so far:\n${decoder.decode((await stderr).slice(-4000))}${logTails()}`,
    );
  }
  const [out, err] = await Promise.all([stdout, stderr]);
  const decoder = new TextDecoder();
  return {
    code: status.code,
    stdout: decoder.decode(out),
    stderr: decoder.decode(err),
    stdoutBytes: out,
  };
}

/** A stream's bytes, once it ends. */
async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * Spawns the CLI and hands back the process, for streaming tests (stdin is piped on request).
 *
 * @example
 * ```ts
 * const child = spawnCli(["connect", "exec", "web-1", "--", "sleep", "60"], env);
 * child.kill("SIGTERM");
 * ```
 */
export function spawnCli(
  args: string[],
  env: Record<string, string> = {},
  options: { stdin?: "piped" | "null" } = {},
): Deno.ChildProcess {
  return spawnCmdop(args, { env, stdin: options.stdin });
}

/** A CLI run whose output is collected as it comes; stdin stays open until `endInput`. */
export interface StreamingCli {
  child: Deno.ChildProcess;
  stdout(): string;
  stderr(): string;
  write(text: string): Promise<void>;
  endInput(): Promise<void>;
  /** Exit code, once it exits. */
  status: Promise<number>;
}

/**
 * Spawns the CLI with stdin piped and its output collected, for sessions that
 * stay open while the test acts on them.
 *
 * @example
 * ```ts
 * const cli = streamCli(["connect", "web-1"], env);
 * await cli.write("echo hi\n");
 * ```
 */
export function streamCli(args: string[], env: Record<string, string> = {}): StreamingCli {
  const child = spawnCmdop(args, { env, stdin: "piped" });
  const stdout = collect(child.stdout);
  const stderr = collect(child.stderr);
  const writer = child.stdin.getWriter();
  const encoder = new TextEncoder();
  return {
    child,
    stdout: stdout.text,
    stderr: stderr.text,
    write: (text) => writer.write(encoder.encode(text)).catch(() => {}),
    endInput: () => writer.close().catch(() => {}),
    status: child.status.then(async (s) => {
      await Promise.all([stdout.done, stderr.done]);
      return s.code;
    }),
  };
}

/** Environment for CLI calls against a relay with a key; CMDOP_HOME isolated per test. */
export async function clientEnv(
  relayUrl: string,
  apiKey?: string,
): Promise<Record<string, string>> {
  const home = await Deno.makeTempDir({ prefix: "cmdop-home-" });
  const env: Record<string, string> = { CMDOP_SERVER: relayUrl, CMDOP_HOME: home };
  if (apiKey) env.CMDOP_API_KEY = apiKey;
  return env;
}

/** Polls the relay until the machine with this hostname has the wanted online state. */
export async function waitMachineOnline(
  relayUrl: string,
  apiKey: string,
  hostname: string,
  online = true,
  timeoutMs = 30_000,
): Promise<void> {
  const client = createClient(
    MachineService,
    createRelayTransport({ baseUrl: relayUrl, bearer: apiKey }),
  );
  await waitFor(`"${hostname}" to be ${online ? "online" : "offline"}`, async () => {
    try {
      const { machines } = await client.listMachines({});
      return machines.some((m) => m.hostname === hostname && m.online === online);
    } catch {
      return false;
    }
  }, timeoutMs);
}

/** Resident memory of a process in bytes (Linux), or 0 when it is gone. */
export async function residentBytes(pid: number): Promise<number> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    const kb = /VmRSS:\s+(\d+) kB/.exec(status);
    return kb ? Number(kb[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Samples a process's resident memory until stopped; returns the peak. */
export function samplePeakRss(pid: number, intervalMs = 20): { stop(): Promise<number> } {
  let peak = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      peak = Math.max(peak, await residentBytes(pid));
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return peak;
    },
  };
}

/** True while the process exists and is not a zombie (PID 1 in containers may never reap). */
export async function processAlive(pid: number): Promise<boolean> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    return !/^State:\s+Z/m.test(status);
  } catch {
    return false;
  }
}

/** Kills whatever a test left running (use in `after`), and forgets their logs. */
export async function killAll(): Promise<void> {
  for (const child of [...live]) {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
    await child.status.catch(() => {});
  }
  forgetLoggedProcesses();
}
