/** Clients and agents interrupted in every phase of exec and attach sessions: the relay keeps serving, nothing leaks (Linux). */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import {
  type AgentProcess,
  clientEnv,
  killAll,
  processAlive,
  type RelayProcess,
  runCmdop,
  startAgent,
  startRelay,
  waitFor,
  type Workspace,
} from "../_harness.ts";
import {
  type Client,
  inBatches,
  killClients,
  markerPid,
  type Mode,
  openSockets,
  relaySocketsNotToAgents,
  signal,
  startClient,
  unendedSessions,
  waitGone,
} from "./_interrupts.ts";
import { CUTS, rawSessionThenCut } from "./_raw_session.ts";
import { needTools } from "../_tools.ts";

/** Per test: a few minutes at the default count on a busy two-core machine. */
const TEST_MS = 900_000;

/** Interrupts per kind (each client signal, agent SIGKILL, raw hang-up); CI keeps the default. */
const COUNT = Number(Deno.env.get("CMDOP_TEST_INTERRUPTS") ?? 50);
/** Interrupts run side by side; the machine has two cores and others' tests. */
const WIDTH = Number(Deno.env.get("CMDOP_TEST_INTERRUPT_WIDTH") ?? 8);
/** Bounds for things that must happen, generous for a busy machine: a leak or hang lasts forever. */
const BOUND_MS = 30_000;
/** A CLI and its session starting, on a machine whose load average reached 25 in this test's runs. */
const START_MS = 120_000;

const MODES: Mode[] = ["exec", "piped", "pty"];
type Phase = "before dial-back" | "streaming" | "stalled" | "after exit";
const PHASES: Phase[] = ["before dial-back", "streaming", "stalled", "after exit"];

/** What a process is doing, for a failure message: its name, state and where it waits (Linux). */
async function describeProcess(pid: number): Promise<string> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => "");
  if (!stat) return `${pid} gone`;
  const tasks = [...Deno.readDirSync(`/proc/${pid}/task`)].map((t) => t.name);
  const waits = await Promise.all(tasks.map(async (t) => {
    const wchan = await Deno.readTextFile(`/proc/${pid}/task/${t}/wchan`).catch(() => "?");
    return wchan === "0" ? "" : wchan;
  }));
  const [, name, state] = /^\d+ \((.*)\) (\S)/.exec(stat) ?? [];
  return `${pid} ${name} state ${state}, waiting in ${
    [...new Set(waits.filter((w) => w))].join(",")
  }`;
}

/** Sends SIGCONT to `pid` whenever it is found stopped, until `stop()`. */
function keepContinued(pid: number): { stop(): void } {
  let stopped = false;
  (async () => {
    while (!stopped) {
      const stat = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => "");
      if (stat === "") return; // gone
      if (/\) T /.test(stat)) signal(pid, "SIGCONT");
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return { stop: () => stopped = true };
}

/** The relay's `cmdop_sessions_waiting` gauge: sessions whose machine has not dialled back. */
async function sessionsWaiting(url: string): Promise<number> {
  const page = await (await fetch(new URL("/metrics", url))).text();
  return Number(/^cmdop_sessions_waiting (\S+)$/m.exec(page)?.[1] ?? NaN);
}

const random = (ms: number) => Math.floor(Math.random() * ms);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The shell line a session runs in `phase`, writing its pid to `marker`. */
function commandFor(mode: Mode, phase: Phase, marker: string): string {
  if (phase === "after exit") {
    // `fin$((1+1))ished` prints as fin2ished: the echo of the typed line does not match.
    return `echo $$ > ${marker}; echo fin$((1+1))ished${mode === "exec" ? "" : "; exit"}`;
  }
  return `echo $$ > ${marker}; exec cat /dev/zero`;
}

const missing = Deno.build.os === "linux"
  ? await needTools("the interrupt tests", ["script", "ss", "setpriv"])
  : "Linux only (/proc, ss, setpriv)";

describe("interrupts", { skip: missing }, () => {
  let relay: RelayProcess;
  let ws: Workspace;
  let env: Record<string, string>;
  let dir: string;
  let box: AgentProcess;
  let frozen: AgentProcess;
  const survived: Record<string, number> = {};

  before(async () => {
    relay = await startRelay();
    ws = await relay.createWorkspace("interrupts");
    env = await clientEnv(relay.url, ws.api_key);
    dir = await Deno.makeTempDir({ prefix: "cmdop-interrupts-" });
    // A terminal whose client vanished (SIGKILL) is kept for its client to resume, then hung up:
    // 2 s here, well within the bound its processes have to be gone.
    box = await startAgent(relay.url, ws.enroll_token, {
      hostname: "int-box",
      extraArgs: ["--resume-grace", "2s"],
    });
    frozen = await startAgent(relay.url, ws.enroll_token, { hostname: "frozen-box" });
  });

  after(async () => {
    await killClients();
    await killAll();
    console.log(`interrupts survived: ${JSON.stringify(survived)}`);
  });

  /** One client in `mode`, interrupted by `sig` in `phase`; returns what went wrong, if anything. */
  async function interruptClient(
    sig: Deno.Signal,
    mode: Mode,
    phase: Phase,
    i: number,
  ): Promise<string | undefined> {
    const marker = `${dir}/${sig}-${i}`;
    const machine = phase === "before dial-back" ? "frozen-box" : "int-box";
    const client: Client = startClient(mode, machine, commandFor(mode, phase, marker), env);
    const cli = await client.cliPid();
    if (cli === 0) {
      // The CLI ended before it could be signalled: no sample (never signal pid 0, the group).
      await client.finish(5_000);
      return undefined;
    }
    let remote: number | undefined;
    if (phase === "before dial-back") {
      await sleep(300 + random(1500));
    } else {
      remote = await markerPid(marker, START_MS);
      if (remote === undefined) {
        const exited = await client.finish(5_000);
        return `${mode} ${phase}: the command never started (the client ${
          exited ? "exited" : "still ran"
        }; its stderr: ${JSON.stringify(client.stderr().slice(0, 500))})`;
      }
      if (phase === "after exit") {
        await waitFor("the last output", () => client.stdout().includes("fin2ished"), BOUND_MS)
          .catch(() => {});
      } else await sleep(random(300));
    }
    if (phase === "stalled") {
      signal(cli, "SIGSTOP");
      await sleep(300 + random(300)); // the windows fill while it is stopped
    }
    const delivered = signal(cli, sig);
    if (phase === "stalled") {
      signal(cli, "SIGCONT");
    }
    // `script` stops itself when its child stops (job control), whenever it gets to notice: on a
    // busy machine that can be seconds later, after a SIGCONT it would then have missed for good.
    const continuing = phase === "stalled" ? keepContinued(client.child.pid) : undefined;
    if (delivered) survived[sig] = (survived[sig] ?? 0) + 1;
    // The CLI is what is judged. `script` (a terminal for it) can miss the exit of a child that
    // was stopped: the kernel merges that SIGCHLD into the pending one of the stop, and script
    // then waits on for good; it is ended below once the CLI has.
    const ended = await waitFor("the CLI to exit", async () => !(await processAlive(cli)), BOUND_MS)
      .then(() => true, () => false);
    const stuck = ended
      ? ""
      : `${await describeProcess(cli)}; its parent ${await describeProcess(client.child.pid)}`;
    await client.finish(ended ? 5_000 : 0);
    continuing?.stop();
    if (!ended) return `${mode} ${phase}: the client hung after ${sig} (${stuck})`;
    if (!(await processAlive(relay.pid))) return `${mode} ${phase}: the relay died`;
    if (remote !== undefined && (await waitGone([remote], BOUND_MS)).length > 0) {
      return `${mode} ${phase}: remote pid ${remote} still runs after ${sig} of its client`;
    }
    return undefined;
  }

  it(`survives ${COUNT} SIGINTs, SIGTERMs and SIGKILLs each of clients in every mode and phase`, {
    timeoutMs: TEST_MS,
  }, async () => {
    const signals = ["SIGINT", "SIGTERM", "SIGKILL"] as const;
    const short = () => signals.filter((sig) => (survived[sig] ?? 0) < COUNT);
    const givenUp: string[] = [];
    const problems: string[] = [];
    signal(frozen.pid, "SIGSTOP");
    try {
      // Until each signal reached COUNT live clients (one may exit on its own just before it).
      await inBatches(() => short().length > 0, WIDTH, async (n) => {
        const sig = signals[n % signals.length];
        if (!short().includes(sig)) return;
        const mode = MODES[Math.floor(n / signals.length) % MODES.length];
        const phase = PHASES[Math.floor(n / (signals.length * MODES.length)) % PHASES.length];
        if (phase === "before dial-back") givenUp.push(`${dir}/${sig}-${n}`);
        const problem = await interruptClient(sig, mode, phase, n);
        if (problem) problems.push(problem);
      });
    } finally {
      // The relay notices the last clients gone a moment after they exit; a machine that woke
      // before then could still be handed their sessions.
      await waitFor(
        "the relay to give up the sessions of interrupted clients",
        async () => (await sessionsWaiting(relay.url)) === 0,
        BOUND_MS,
      ).catch(() =>
        problems.push(`sessions still waited for the frozen machine ${BOUND_MS} ms on`)
      );
      signal(frozen.pid, "SIGCONT");
    }
    assert.deepEqual(problems, [], unendedSessions(relay.stderr()));
    // Sessions asked of the frozen machine were given up: none may start now that it runs again.
    await sleep(2_000);
    for (const marker of givenUp) {
      const text = await Deno.readTextFile(marker).catch(() => "");
      assert.equal(text, "", `a command given up before its dial-back ran anyway (${marker})`);
    }
  });

  it(`survives ${COUNT} SIGKILLs of the agent mid-session`, { timeoutMs: TEST_MS }, async () => {
    const victims = 8;
    const problems: string[] = [];
    await Promise.all(Array.from({ length: victims }, async (_, v) => {
      // A client whose agent went away tries to resume its command for the grace the agent
      // granted (5 min by default), and gives up at once on the restarted agent's refusal; 2 s
      // here, so that a client left waiting past it is a hang.
      const grace = ["--resume-grace", "2s"];
      let agent = await startAgent(relay.url, ws.enroll_token, {
        hostname: `victim-${v}`,
        extraArgs: grace,
      });
      for (let i = v; i < COUNT; i += victims) {
        const mode = MODES[i % MODES.length];
        const marker = `${dir}/agent-${i}`;
        const client = startClient(mode, `victim-${v}`, commandFor(mode, "streaming", marker), env);
        const remote = await markerPid(marker, START_MS);
        await sleep(random(300));
        await agent.kill();
        survived["agent SIGKILL"] = (survived["agent SIGKILL"] ?? 0) + 1;
        if (!(await client.finish(BOUND_MS))) {
          problems.push(`${mode}: client hung after agent died`);
        }
        if (remote === undefined) problems.push(`${mode}: the command never started`);
        else if ((await waitGone([remote], BOUND_MS)).length > 0) {
          problems.push(`${mode}: remote pid ${remote} outlived its killed agent`);
        }
        agent = await startAgent(relay.url, ws.enroll_token, {
          hostname: `victim-${v}`,
          stateDir: agent.stateDir,
          extraArgs: grace,
        });
      }
      await agent.stop();
    }));
    assert.deepEqual(problems, [], unendedSessions(relay.stderr()));
    assert.ok(await processAlive(relay.pid), `relay died:\n${relay.stderr()}`);
  });

  it(`survives ${COUNT} raw clients that hang up half-way`, { timeoutMs: TEST_MS }, async () => {
    const id = /online as machine (\S+)/.exec(box.stderr())![1];
    const problems: string[] = [];
    let cuts = 0;
    await inBatches(() => cuts < COUNT, WIDTH, async (i) => {
      cuts++;
      const cut = CUTS[i % CUTS.length];
      const marker = `${dir}/raw-${i}`;
      const argv = ["sh", "-c", `echo $$ > ${marker}; exec cat /dev/zero`];
      await rawSessionThenCut(relay.url, ws.api_key, id, argv, cut).catch((error) =>
        problems.push(`${cut}: ${error.message}`)
      );
      survived["raw hang-up"] = (survived["raw hang-up"] ?? 0) + 1;
      // Over HTTP/1.1 a half-closed request may count as a hang-up before the session opens.
      const opened = cut === "mid-output";
      const remote = await markerPid(marker, opened ? START_MS : 2_000);
      if (opened && remote === undefined) problems.push(`${cut}: the command never started`);
      if (remote !== undefined && (await waitGone([remote], BOUND_MS)).length > 0) {
        problems.push(`${cut}: remote pid ${remote} outlived its raw client`);
      }
    });
    assert.deepEqual(problems, [], unendedSessions(relay.stderr()));
  });

  it("afterwards the relay answers, the agents serve, and no session or socket is left", async () => {
    assert.ok(await processAlive(relay.pid), `relay died:\n${relay.stderr()}`);
    for (const box of ["int-box", "frozen-box"]) {
      const r = await runCmdop(["connect", "exec", box, "--", "echo", "still here"], { env });
      assert.equal(r.stdout, "still here\n", `${box}: ${r.stderr}`);
    }
    await waitFor("the relay to report no open session", async () => {
      const metrics = await (await fetch(`${relay.url}/metrics`)).text();
      return /^cmdop_sessions_open 0$/m.test(metrics);
    }, BOUND_MS);
    const ended = relay.stderr().match(/session \S+: ended, [^\n]*; (\d+) open/g) ?? [];
    assert.match(ended.at(-1) ?? "", /; 0 open$/);
    // Idle connections an agent's HTTP client keeps for its next dial-back are the agent's to
    // close (as are this test's own fetches); any other socket (a vanished client's, a dead
    // agent's) is a leak. Known and not yet fixed: a few interrupted clients' connections stay in
    // CLOSE-WAIT inside Deno.serve after their session has fully ended (README, Reliability); they
    // are counted and reported, every other leak fails.
    const agents = [box.pid, frozen.pid, Deno.pid];
    let leaked: string[] = [];
    await waitFor("the relay to hold sockets only to live agents", async () => {
      leaked = (await relaySocketsNotToAgents(relay.url, agents)).filter((s) =>
        !/^CLOSE-WAIT .*\(pid (gone|0)\)$/.test(s)
      );
      return leaked.length === 0;
    }, BOUND_MS).catch((error) => {
      throw new Error(`${error.message}: ${leaked.join("; ")} (${openSockets(relay.pid)} in all)`);
    });
    survived["relay sockets left in CLOSE-WAIT"] =
      (await relaySocketsNotToAgents(relay.url, agents))
        .length;
  });
});
