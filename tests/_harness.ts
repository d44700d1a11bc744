/** Test harness: the real relay, agents and CLI as subprocesses on loopback ports. */
import { createClient } from "@connectrpc/connect";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { MachineService } from "../gen/cmdop/v1/machine_pb.ts";
import { createRelayTransport } from "../src/lib/transport.ts";

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

/** Collects a child's stdout and stderr until it exits; `name` labels its stderr in failures. */
function watch(child: Deno.ChildProcess, name: string): Watched {
  const stderr = collect(child.stderr);
  const stdout = collect(child.stdout);
  const end = async (signal: Deno.Signal) => {
    try {
      child.kill(signal);
    } catch { /* already gone */ }
    await child.status;
    await Promise.all([stderr.done, stdout.done]);
  };
  return {
    stderr: stderr.text,
    waitForStderr: (what, pattern, timeoutMs) =>
      waitFor(what, () => pattern.test(stderr.text()), timeoutMs).catch((error) => {
        throw new Error(`${error.message}; ${name} stderr:\n${stderr.text()}`);
      }),
    stop: () => end("SIGTERM"),
    kill: () => end("SIGKILL"),
  };
}

/** Waits until `predicate(text)` holds for the collected text, or fails after `timeoutMs`. */
export async function waitFor(
  what: string,
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function spawnCmdop(
  args: string[],
  options: { env?: Record<string, string>; stdin?: "piped" | "null" } = {},
) {
  const child = new Deno.Command(DENO, {
    args: ["run", "-A", "--quiet", MAIN, ...args],
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
  ], { env: options.env });
  const { stderr, waitForStderr, stop, kill } = watch(child, "relay");
  await waitForStderr("the relay to listen", /listening on http/, 20_000);
  const url = /listening on (http\S+)/.exec(stderr())![1];
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

/** An agent process. */
export interface AgentProcess {
  pid: number;
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
  },
): Promise<AgentProcess> {
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
  if (options.password !== undefined) args.push("--password-stdin");
  const child = spawnCmdop(args, { stdin: options.password !== undefined ? "piped" : "null" });
  if (options.password !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.password + "\n"));
    await writer.close();
  }
  const { stderr, waitForStderr, stop, kill } = watch(child, "agent");
  if (options.waitOnline !== false) {
    await waitForStderr("the agent to come online", /online as machine/);
  }
  return { pid: child.pid, stateDir, stderr, stop, kill };
}

export interface CmdopResult {
  code: number;
  stdout: string;
  stderr: string;
  stdoutBytes: Uint8Array;
}

/** Runs the CLI to completion. */
export async function runCmdop(
  args: string[],
  options: { env?: Record<string, string>; stdin?: Uint8Array | string } = {},
): Promise<CmdopResult> {
  const child = spawnCmdop(args, {
    env: options.env,
    stdin: options.stdin !== undefined ? "piped" : "null",
  });
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    const bytes = typeof options.stdin === "string"
      ? new TextEncoder().encode(options.stdin)
      : options.stdin;
    await writer.write(bytes).catch(() => {});
    await writer.close().catch(() => {});
  }
  const output = await child.output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
    stdoutBytes: output.stdout,
  };
}

/** Spawns the CLI and hands back the process, for streaming tests. */
export function spawnCli(args: string[], env: Record<string, string> = {}): Deno.ChildProcess {
  return spawnCmdop(args, { env });
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
  timeoutMs = 15_000,
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

/** Kills whatever a test left running (use in `after`). */
export async function killAll(): Promise<void> {
  for (const child of [...live]) {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
    await child.status.catch(() => {});
  }
}
