/** Remote commands never outlive their session: clients killed mid-stall, the agent stopped, the agent killed (Linux: pids from /proc). */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import {
  type AgentProcess,
  clientEnv,
  killAll,
  processAlive,
  type RelayProcess,
  runCmdop,
  spawnCli,
  startAgent,
  startRelay,
  waitFor,
  type Workspace,
} from "../_harness.ts";

/** Generous: the machine may be busy with other tests; a leak lasts forever, not 30 s. */
const GONE_WITHIN_MS = 30_000;

/** Reads the pids the commands wrote into their marker files (waits until each is there). */
async function readPids(markers: string[]): Promise<number[]> {
  const pids: number[] = [];
  for (const marker of markers) {
    let text = "";
    await waitFor(`the command to write "${marker}"`, async () => {
      text = await Deno.readTextFile(marker).catch(() => "");
      return /^\d+( \d+)*\n/.test(text);
    }, 60_000);
    pids.push(...text.trim().split(/\s+/).map(Number));
  }
  return pids;
}

async function survivors(pids: number[]): Promise<number[]> {
  const alive = await Promise.all(pids.map(processAlive));
  return pids.filter((_, i) => alive[i]);
}

async function waitAllGone(what: string, pids: number[]): Promise<void> {
  await waitFor(what, async () => (await survivors(pids)).length === 0, GONE_WITHIN_MS)
    .catch(async (error) => {
      const left = await survivors(pids);
      // Not left behind by a failing test.
      for (const pid of left) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch { /* gone */ }
      }
      throw new Error(`${error.message}: still running: ${left.join(", ")}`);
    });
}

describe("remote processes", { skip: Deno.build.os !== "linux" }, () => {
  let relay: RelayProcess;
  let ws: Workspace;
  let env: Record<string, string>;
  let dir: string;

  before(async () => {
    relay = await startRelay();
    ws = await relay.createWorkspace("procs");
    env = await clientEnv(relay.url, ws.api_key);
    dir = await Deno.makeTempDir({ prefix: "cmdop-procs-" });
  });

  after(async () => {
    await killAll();
  });

  it("ends 20 stalled cat /dev/zero whose clients were killed, and the relay keeps serving", {
    timeoutMs: 240_000,
  }, async () => {
    const agent = await startAgent(relay.url, ws.enroll_token, { hostname: "stall-box" });
    const markers = Array.from({ length: 20 }, (_, i) => `${dir}/stall-${i}`);
    // stdout is never read: the client stops reading, the relay's and agent's windows fill, output
    // stalls. Started five at a time: twenty CLIs starting at once on a busy two-core machine
    // starved the agent long enough to be taken for frozen.
    const clients: Deno.ChildProcess[] = [];
    const pids: number[] = [];
    for (let wave = 0; wave < markers.length; wave += 5) {
      const batch = markers.slice(wave, wave + 5);
      clients.push(...batch.map((marker) =>
        spawnCli([
          "connect",
          "exec",
          "stall-box",
          "--",
          "sh",
          "-c",
          `echo $$ > ${marker}; exec cat /dev/zero`,
        ], env)
      ));
      pids.push(...await readPids(batch));
    }
    for (const client of clients) client.kill("SIGSTOP");
    await new Promise((r) => setTimeout(r, 500));
    for (const client of clients) client.kill("SIGKILL");
    await Promise.all(clients.map((c) => c.status));
    await waitAllGone("the stalled commands to be ended", pids);
    assert.ok(await processAlive(relay.pid), `relay died:\n${relay.stderr()}`);
    const r = await runCmdop(["connect", "exec", "stall-box", "--", "echo", "still here"], { env });
    assert.equal(r.stdout, "still here\n", r.stderr);
    await agent.stop();
  });

  it("ends running commands and their children when the agent is stopped", async () => {
    const agent = await startAgent(relay.url, ws.enroll_token, { hostname: "stop-box" });
    const markers = Array.from({ length: 3 }, (_, i) => `${dir}/stop-${i}`);
    const clients = markers.map((marker) =>
      spawnCli([
        "connect",
        "exec",
        "stop-box",
        "--",
        "sh",
        "-c",
        // A child that ignores the hang-up, beside the command itself.
        `trap '' TERM HUP; sleep 600 & echo $$ $! > ${marker}; wait`,
      ], env)
    );
    const pids = await readPids(markers);
    await agent.stop();
    await waitAllGone("the commands to end with their agent", pids);
    await Promise.all(clients.map((c) => c.status));
  });

  it("ends a killed agent's commands at once, and their children when it starts again", async () => {
    const agent: AgentProcess = await startAgent(relay.url, ws.enroll_token, {
      hostname: "kill-box",
    });
    const markers = Array.from({ length: 3 }, (_, i) => `${dir}/kill-${i}`);
    const clients = markers.map((marker) =>
      spawnCli([
        "connect",
        "exec",
        "kill-box",
        "--",
        "sh",
        "-c",
        // The child detaches from nothing but its parent: it is only found through its session.
        `sleep 600 & echo $$ $! > ${marker}; wait`,
      ], env)
    );
    const pids = await readPids(markers);
    const leaders = pids.filter((_, i) => i % 2 === 0);
    await agent.kill();
    // The parent-death signal ends each command the agent started directly.
    await waitAllGone("the killed agent's commands to end", leaders);
    await Promise.all(clients.map((c) => c.status));
    // Their children are ended by the next agent on this machine, before it serves anything.
    const again = await startAgent(relay.url, ws.enroll_token, {
      hostname: "kill-box",
      stateDir: agent.stateDir,
    });
    await waitAllGone("the next agent to end what the killed one left", pids);
    assert.match(again.stderr(), /ended \d+ processes left running by the previous agent/);
    await again.stop();
  });
});
