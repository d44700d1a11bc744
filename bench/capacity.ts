/** Relay capacity: idle agents held (RSS, CPU), concurrent exec throughput, and a reconnect storm after SIGKILL. */

import { createWorkspace, ROOT, startAgentProc, startRelayProc } from "./_cmdop_stack.ts";
import { cpuShare, freePort, type Proc, rssBytes, spawnProc } from "./_proc.ts";
import { formatTable } from "./_stats.ts";
import type { ExecLoadResult } from "./_execload.ts";

/** Sizes of the capacity run. */
export interface CapacityOptions {
  /** Simulated agents held at once. */
  agents: number;
  /** Seconds of each exec-throughput run. */
  execSeconds: number;
  /** Concurrent clients of the exec-throughput runs. */
  clients: number[];
  /** Scratch dir; removed by the caller. */
  workDir: string;
}

/** One exec-throughput run: which agents answered, and what the clients saw. */
export interface ExecThroughput extends ExecLoadResult {
  /** `simulated` agents answer without a process; `real` is `cmdop agent run` spawning `true`. */
  target: "simulated" | "real";
}

/** What {@linkcode measureCapacity} found. */
export interface CapacityReport {
  agents: number;
  loadgenProcesses: number;
  /** Relay RSS before any agent and with all of them connected and idle. */
  relayRssBaseBytes: number;
  relayRssIdleBytes: number;
  rssPerAgentBytes: number;
  /** Share of one core the relay used while the agents sat idle. */
  idleCpuShare: number;
  idleCpuSeconds: number;
  /** From the first loadgen start until every agent was online (enrollment included on a first run). */
  connectSeconds: number;
  execThroughput: ExecThroughput[];
  storm?: {
    /** SIGKILL to every agent back online, and relay listening again to every agent back online. */
    fromKillSeconds: number;
    fromListenSeconds: number;
    relayAlive: boolean;
    relayRssAfterBytes?: number;
  };
}

/** Agents per load generator process: its own fds stay well under the limit. */
const AGENTS_PER_LOADGEN = 2_500;
const DENO = Deno.execPath();

/**
 * Runs the whole capacity scenario on a relay of its own.
 *
 * @example
 * ```ts
 * const report = await measureCapacity({ agents: 10_000, execSeconds: 5, clients: [1, 10, 100], workDir });
 * console.log(capacityTable(report));
 * ```
 */
export async function measureCapacity(options: CapacityOptions): Promise<CapacityReport> {
  const port = freePort();
  const dataDir = `${options.workDir}/capacity-relay`;
  // Every simulated agent comes from 127.0.0.1, where a real fleet comes from many addresses:
  // the relay's cap per source (4,096 by default) would hold all but that many off.
  const relayArgs = ["--max-connections-per-source", String(options.agents + 1_000)];
  let relay = await startRelayProc(dataDir, port, undefined, relayArgs);
  const loadgens: Loadgen[] = [];
  let agent: Proc | undefined;
  try {
    const workspace = await createWorkspace(dataDir, "capacity");
    await settle(2_000);
    const relayRssBaseBytes = rssBytes(relay.pid) ?? 0;
    const started = performance.now();
    const processes = Math.ceil(options.agents / AGENTS_PER_LOADGEN);
    for (let p = 0; p < processes; p++) {
      const count = Math.min(AGENTS_PER_LOADGEN, options.agents - p * AGENTS_PER_LOADGEN);
      loadgens.push(startLoadgen(relay.url, workspace.enroll_token, count, options.workDir, p));
    }
    await waitOnline(loadgens, options.agents, 300_000);
    const connectSeconds = (performance.now() - started) / 1000;
    await settle(5_000);
    const idleCpuSeconds = 15;
    const idleCpuShare = await cpuShare(relay.pid, idleCpuSeconds * 1000);
    const relayRssIdleBytes = rssBytes(relay.pid) ?? 0;

    const agentDir = `${options.workDir}/capacity-agent`;
    // 100 clients at once: past the agent's default of 64 sessions the row would time refusals.
    agent = await startAgentProc(
      relay.url,
      workspace.enroll_token,
      "capacity-real",
      agentDir,
      undefined,
      [
        "--max-sessions",
        "128",
      ],
    );
    const simulated = loadgens.flatMap((l) => l.machineIds());
    const real = machineIdOf(agentDir);
    const execThroughput: ExecThroughput[] = [];
    for (const [target, ids] of [["simulated", simulated], ["real", [real]]] as const) {
      for (const clients of options.clients) {
        const result = await execLoad(
          relay.url,
          workspace.api_key,
          ids,
          clients,
          options.execSeconds,
        );
        execThroughput.push({ target, ...result });
        if (result.failures > 0) {
          console.error(
            `exec load (${target}, ${clients} clients): ${result.failures} failed: ${result.firstFailure}; ` +
              `agent log: ${agent.stderr().slice(-600)}; relay log: ${relay.stderr().slice(-1500)}`,
          );
        }
      }
    }
    await agent.stop();
    agent = undefined;

    const kill = performance.now();
    await relay.stop("SIGKILL");
    relay = await startRelayProc(dataDir, port, undefined, relayArgs);
    const listening = performance.now();
    await waitOnline(loadgens, options.agents, 120_000);
    const back = performance.now();
    await settle(2_000);
    return {
      agents: options.agents,
      loadgenProcesses: processes,
      relayRssBaseBytes,
      relayRssIdleBytes,
      rssPerAgentBytes: (relayRssIdleBytes - relayRssBaseBytes) / options.agents,
      idleCpuShare,
      idleCpuSeconds,
      connectSeconds,
      execThroughput,
      storm: {
        fromKillSeconds: (back - kill) / 1000,
        fromListenSeconds: (back - listening) / 1000,
        relayAlive: rssBytes(relay.pid) !== undefined,
        relayRssAfterBytes: rssBytes(relay.pid),
      },
    };
  } finally {
    await agent?.stop();
    await Promise.all(loadgens.map((l) => l.proc.stop("SIGKILL")));
    await relay.stop();
  }
}

/** A load generator process and its latest status line. */
interface Loadgen {
  proc: Proc;
  status(): { enrolled: number; online: number; dials: number; failures: number };
  machineIds(): string[];
}

function startLoadgen(
  url: string,
  token: string,
  count: number,
  dir: string,
  index: number,
): Loadgen {
  const state = `${dir}/loadgen-${index}.json`;
  const proc = spawnProc(DENO, [
    "run",
    "--quiet",
    "-A",
    `${ROOT}bench/_loadgen.ts`,
    ...["--server", url, "--enroll-token", token, "--count", String(count)],
    ...["--state", state, "--prefix", `sim${index}`],
  ], { raiseFdLimit: true, stdout: "collect" });
  return {
    proc,
    status() {
      const lines = proc.stdout().trimEnd().split("\n");
      try {
        return JSON.parse(lines[lines.length - 1]);
      } catch {
        return { enrolled: 0, online: 0, dials: 0, failures: 0 };
      }
    },
    machineIds: () =>
      (JSON.parse(Deno.readTextFileSync(state)) as { machineId: string }[]).map((a) => a.machineId),
  };
}

async function waitOnline(loadgens: Loadgen[], total: number, timeoutMs: number) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const online = loadgens.reduce((n, l) => n + l.status().online, 0);
    if (online >= total) return;
    const dead = loadgens.find((l) => rssBytes(l.proc.pid) === undefined);
    if (dead) throw new Error(`Load generator exited: ${dead.proc.stderr().slice(-500)}`);
    if (performance.now() > deadline) {
      throw new Error(`Only ${online} of ${total} agents online after ${timeoutMs / 1000} s`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function execLoad(
  url: string,
  key: string,
  machines: readonly string[],
  clients: number,
  seconds: number,
): Promise<ExecLoadResult> {
  // Ten thousand ids do not fit on a command line.
  const list = Deno.makeTempFileSync({ prefix: "cmdop-bench-machines-" });
  Deno.writeTextFileSync(list, machines.join("\n"));
  const out = await new Deno.Command(DENO, {
    args: [
      ...["run", "--quiet", "-A", `${ROOT}bench/_execload.ts`, "--server", url, "--key", key],
      ...["--machines-file", list, "--clients", String(clients), "--seconds", String(seconds)],
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  Deno.removeSync(list);
  const text = new TextDecoder();
  if (!out.success) throw new Error(`Exec load failed: ${text.decode(out.stderr).slice(-500)}`);
  return JSON.parse(text.decode(out.stdout));
}

/** The machine id `cmdop agent run` saved in its state dir. */
function machineIdOf(stateDir: string): string {
  return JSON.parse(Deno.readTextFileSync(`${stateDir}/agent.json`)).machine_id;
}

function settle(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}

/** A number with `digits` decimals; "-" for one that was not measured (NaN, JSON null). */
function fixed(value: number | null | undefined, digits: number): string {
  return typeof value === "number" && Number.isFinite(value) ? value.toFixed(digits) : "-";
}

/**
 * The capacity figures as a table, with the goals they are held to.
 *
 * @example
 * ```ts
 * console.log(capacityTable(report));
 * ```
 */
export function capacityTable(r: CapacityReport): string {
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  const rows = [
    ["idle agents held", `${r.agents}`, `in ${r.loadgenProcesses} load generator processes`],
    [
      "relay RSS, no agents / all idle",
      `${mib(r.relayRssBaseBytes)} / ${mib(r.relayRssIdleBytes)}`,
      "goal: <= 1024 MiB at 10,000",
    ],
    ["relay RSS per agent", `${(r.rssPerAgentBytes / 1024).toFixed(1)} KiB`, ""],
    [
      "relay CPU while idle",
      `${(r.idleCpuShare * 100).toFixed(1)} % of a core`,
      `over ${r.idleCpuSeconds} s`,
    ],
    [
      "all agents connected in",
      `${r.connectSeconds.toFixed(1)} s`,
      "enrollment included on a fresh run",
    ],
    ...r.execThroughput.map((t) => [
      `execs/s, ${t.clients} client${t.clients > 1 ? "s" : ""}, ${t.target} agent${
        t.target === "real" ? "" : "s"
      }`,
      `${fixed(t.execsPerSecond, 0)}/s`,
      `p50 ${fixed(t.latencyMs.p50, 1)} ms, p99 ${
        fixed(t.latencyMs.p99, 1)
      } ms, ${t.failures} failed`,
    ]),
  ];
  if (r.storm) {
    rows.push(
      [
        "storm: SIGKILL to all back online",
        `${r.storm.fromKillSeconds.toFixed(1)} s`,
        "goal: <= 30 s",
      ],
      [
        "storm: relay listening to all back",
        `${r.storm.fromListenSeconds.toFixed(1)} s`,
        r.storm.relayAlive ? "relay stayed up" : "RELAY DIED",
      ],
    );
  }
  return formatTable(["relay capacity", "value", "note"], rows, [1]);
}
