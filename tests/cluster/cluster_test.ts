/** Three relay nodes on PostgreSQL and NATS behind haproxy: exec and attach across nodes, node failures, isolation. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import { createClient } from "@connectrpc/connect";
import { ShareService } from "../../gen/cmdop/v1/share_pb.ts";
import { createRelayTransport } from "../../src/lib/transport.ts";
import {
  type AgentProcess,
  clientEnv,
  killAll,
  MACHINE_VARIABLE,
  MAIN,
  processAlive,
  type RelayProcess,
  residentBytes,
  runCmdop,
  samplePeakRss,
  spawnCli,
  startAgent,
  streamCli,
  type StreamingCli,
  waitFor,
  type Workspace,
} from "../_harness.ts";
import {
  type ClusterServices,
  clusterSkipReason,
  createClusterWorkspace,
  listMachines,
  onlineAt,
  startClusterServices,
  startNode,
} from "./_cluster.ts";
import { type ServiceProcess, startHaproxy } from "./_services.ts";
import { startInTmux } from "./_tmux.ts";
import { needTools } from "../_tools.ts";

const skip = await clusterSkipReason("relay cluster", ["haproxy"]);
const noTmux = await needTools("the cluster's attach test", ["tmux"]);
const MIB = 1024 * 1024;
/** Prints the marker of the agent that runs it (see MACHINE_VARIABLE): which machine ran it. */
const ECHO_MARKER = `echo "$${MACHINE_VARIABLE}"`;

/** 40 numbered lines over 20 s, then exit 5: long enough to be cut by a node's death. */
const TICKS = "for i in $(seq 1 40); do echo tick-$i; sleep 0.5; done; exit 5";

/** A command of {@linkcode TICKS} resumed across a drop: every line once, in order, and its status. */
function assertTicked(exec: StreamingCli, code: number): void {
  assert.equal(code, 5, exec.stderr());
  assert.match(exec.stderr(), /resumed the command on "alpha"/);
  const ticks = [...exec.stdout().matchAll(/tick-(\d+)\n/g)].map((m) => Number(m[1]));
  assert.deepEqual(ticks, Array.from({ length: 40 }, (_, i) => i + 1), "every line once");
}

describe("relay cluster", { skip }, () => {
  let services: ClusterServices;
  let lb: ServiceProcess;
  let nodes: RelayProcess[];
  let one: Workspace;
  let two: Workspace;
  let alpha: AgentProcess;

  const url = (i: number) => nodes[i].url;
  const envAt = (relayUrl: string, ws: Workspace = one) => clientEnv(relayUrl, ws.api_key);
  const hostnames = async (relayUrl: string, ws: Workspace) =>
    (await listMachines(relayUrl, ws.api_key)).map((m) => `${m.hostname}:${m.online}`).sort();

  before(async () => {
    services = await startClusterServices();
    // Three nodes start at once on an empty database: one migrates, the others wait for it.
    nodes = await Promise.all(
      ["a", "b", "c"].map((id) => startNode(services.pg.url, services.nats.url, id)),
    );
    lb = await startHaproxy(nodes.map((n) => Number(new URL(n.url).port)));
    one = await createClusterWorkspace(services.pg.url, "one");
    two = await createClusterWorkspace(services.pg.url, "two");
    const all = (first: number) => [0, 1, 2].map((i) => url((first + i) % 3)).join(",");
    [alpha] = await Promise.all([
      startAgent(all(0), one.enroll_token, { hostname: "alpha" }),
      startAgent(lb.url, one.enroll_token, { hostname: "beta" }),
      startAgent(all(1), two.enroll_token, { hostname: "gamma" }),
      // Knows only node a: once a dies it has nowhere to go, and must read offline.
      startAgent(url(0), one.enroll_token, { hostname: "solo" }),
    ]);
  });

  after(async () => {
    await killAll();
    await lb?.stop();
    await services?.stop();
  });

  it("shows every machine of a workspace, online, from every node", async () => {
    const expected = ["alpha:true", "beta:true", "solo:true"];
    // Presence is written as an agent connects; give the last write a moment to land.
    await waitFor(
      "every agent's presence",
      async () => JSON.stringify(await hostnames(url(2), one)) === JSON.stringify(expected),
    );
    for (const relay of [url(0), url(1), url(2), lb.url]) {
      assert.deepEqual(await hostnames(relay, one), expected);
    }
    assert.equal(onlineAt(alpha.stderr()), url(0), "alpha holds on the first of its servers");
  });

  it("runs exec on a machine whose agent is on another node", async () => {
    const env = await envAt(url(1));
    const r = await runCmdop(
      ["connect", "exec", "alpha", "--", "sh", "-c", `${ECHO_MARKER}; echo err >&2; exit 7`],
      { env },
    );
    assert.equal(r.stdout, "alpha\n");
    assert.match(r.stderr, /err/);
    assert.equal(r.code, 7);
    const input = "x".repeat(3 * MIB);
    const wc = await runCmdop(["connect", "exec", "alpha", "--", "wc", "-c"], {
      env,
      stdin: input,
    });
    assert.equal(wc.stdout.trim(), String(input.length), "stdin crosses the bridge under credit");
  });

  it("runs exec through the load balancer", async () => {
    const env = await envAt(lb.url);
    for (const host of ["alpha", "beta", "solo"]) {
      const r = await runCmdop(["connect", "exec", host, "--", "sh", "-c", ECHO_MARKER], { env });
      assert.equal(r.stdout, `${host}\n`, "the command ran on the machine named");
      assert.equal(r.code, 0);
    }
  });

  it("holds bulk output across nodes to the credit window while the client stalls", async () => {
    const size = 64 * MIB;
    const child = spawnCli(
      ["connect", "exec", "alpha", "--", "head", "-c", String(size), "/dev/zero"],
      await envAt(url(1)),
    );
    // The baseline once output flows: the session is set up on both nodes.
    const reader = child.stdout.getReader();
    const first = await reader.read();
    let total = first.value?.length ?? 0;
    const before = [await residentBytes(nodes[0].pid), await residentBytes(nodes[1].pid)];
    // Nobody reads the client's stdout for a while: its pipe fills and credit stops. The peak
    // over that time is judged, not one sample at its end.
    const peaks = [samplePeakRss(nodes[0].pid), samplePeakRss(nodes[1].pid)];
    await new Promise((r) => setTimeout(r, 2_500));
    const stalled = await Promise.all(peaks.map((p) => p.stop()));
    for (let next = await reader.read(); !next.done; next = await reader.read()) {
      total += next.value.length;
    }
    const status = await child.status;
    await child.stderr.cancel();
    assert.equal(total, size);
    assert.equal(status.code, 0);
    for (const i of [0, 1]) {
      const growth = (stalled[i] - before[i]) / MIB;
      assert.ok(growth < 48, `node ${i} grew ${growth.toFixed(1)} MiB while the client stalled`);
    }
  });

  it("attaches a terminal on a machine whose agent is on another node", {
    skip: noTmux,
  }, async () => {
    const env = await envAt(url(2));
    const pane = await startInTmux(
      [Deno.execPath(), "run", "-A", "--quiet", MAIN, "connect", "alpha"],
      { ...env, NO_COLOR: "1", TERM: "xterm-256color" },
    );
    try {
      await pane.sendKeys("tty; echo $((6 * 7)); stty size", "Enter");
      const screen = await pane.waitForScreen(/\/dev\/pts\/\d+[\s\S]*\n42\s*\n[\s\S]*30 120/);
      assert.match(screen, /\/dev\/pts\//);
      await pane.sendKeys("exit 3", "Enter");
      assert.equal(await pane.exitStatus(), 3);
    } finally {
      await pane.kill();
    }
  });

  it("keeps two workspaces apart on every node", async () => {
    assert.deepEqual(await hostnames(url(0), two), ["gamma:true"]);
    const envTwo = await envAt(url(0), two);
    const gamma = await runCmdop(["connect", "exec", "gamma", "--", "sh", "-c", ECHO_MARKER], {
      env: envTwo,
    });
    assert.equal(gamma.stdout, "gamma\n", "gamma's agent is on node b, the client on a");
    const foreign = await runCmdop(["connect", "exec", "alpha", "--", "true"], { env: envTwo });
    assert.equal(foreign.code, 1);
    const other = await runCmdop(["connect", "exec", "gamma", "--", "true"], {
      env: await envAt(url(2)),
    });
    assert.equal(other.code, 1);
  });

  it("survives the death of a node: the client hears why, agents move, nothing is lost", async () => {
    const shares = createClient(
      ShareService,
      createRelayTransport({ baseUrl: url(2), bearer: one.api_key }),
    );
    const machines = await listMachines(url(2), one.api_key);
    const alphaId = machines.find((m) => m.hostname === "alpha")!.id;
    const share = await shares.createShare({ machineId: alphaId, ttlHours: 1 });

    // A terminal on alpha through the load balancer: whichever node carries it, the node's death
    // drops it (its own node, or alpha's link on node a), and it resumes through another node.
    const pane = noTmux ? undefined : await startInTmux(
      [Deno.execPath(), "run", "-A", "--quiet", MAIN, "connect", "alpha"],
      { ...(await envAt(lb.url)), NO_COLOR: "1", TERM: "xterm-256color" },
    );
    await pane?.sendKeys("echo SHELL-PID=$$", "Enter");
    const shellPid = pane
      ? Number(/SHELL-PID=(\d+)/.exec(await pane.waitForScreen(/SHELL-PID=\d+/))![1])
      : 0;

    // A command from node b on alpha, whose agent (and dial-back) is on node a: node a's death
    // drops alpha's side; the agent keeps the command, and the client resumes it once alpha is
    // back on a live node.
    const exec = streamCli(
      ["connect", "exec", "alpha", "--", "sh", "-c", TICKS],
      await envAt(url(1)),
    );
    await exec.endInput();
    await waitFor("the command's first lines", () => /tick-2\n/.test(exec.stdout()));
    const killedAt = Date.now();
    await nodes[0].kill();
    await waitFor("the client to hear why", () => /connection to "alpha" lost/.test(exec.stderr()));
    const clientSeconds = (Date.now() - killedAt) / 1000;
    // Margins that hold on a machine 4x slower: what is judged is that nothing waits for ever.
    assert.ok(clientSeconds < 20, `the client heard of the loss after ${clientSeconds} s`);

    await waitFor("alpha back on a live node", async () => {
      const list = await hostnames(url(2), one).catch((): string[] => []);
      return list.includes("alpha:true") && onlineAt(alpha.stderr()) !== url(0);
    }, 40_000);
    const movedSeconds = (Date.now() - killedAt) / 1000;
    if (pane) {
      try {
        await pane.sendKeys("echo resumed-$((8*8))", "Enter");
        await pane.waitForScreen(/^resumed-64\s*$/m, 60_000);
        assert.ok(await processAlive(shellPid), `alpha's shell ${shellPid} was kept`);
        await pane.sendKeys("exit 4", "Enter");
        assert.equal(await pane.exitStatus(), 4);
      } finally {
        await pane.kill();
      }
    }
    await waitFor("solo to read offline", async () => {
      return (await hostnames(url(2), one).catch((): string[] => [])).includes("solo:false");
    }, 40_000);
    const leaseSeconds = (Date.now() - killedAt) / 1000;
    assert.ok(movedSeconds < 30, `alpha was back after ${movedSeconds} s`);
    // The 10 s lease ends it, plus a renewal period and queries that may run 4x slower.
    assert.ok(leaseSeconds < 30, `solo read offline after ${leaseSeconds} s (lease 10 s)`);

    assertTicked(exec, await exec.status);

    const next = await runCmdop(["connect", "exec", "alpha", "--", "sh", "-c", ECHO_MARKER], {
      env: await envAt(url(1)),
    });
    assert.equal(next.stdout, "alpha\n");
    const viaLb = await runCmdop(["connect", "exec", "beta", "--", "sh", "-c", ECHO_MARKER], {
      env: await envAt(lb.url),
    });
    assert.equal(viaLb.stdout, "beta\n");

    // Workspaces, keys, machines and shares live in PostgreSQL, not in the dead node.
    const after = await listMachines(url(2), one.api_key);
    assert.deepEqual(after.map((m) => m.id).sort(), machines.map((m) => m.id).sort());
    const listed = (await shares.listShares({})).shares;
    assert.deepEqual(listed.map((s) => [s.id, s.revoked]), [[share.share!.id, false]]);
    assert.deepEqual(await hostnames(url(2), two), ["gamma:true"]);
  });

  it("resumes a command through the load balancer when the client's node dies", async () => {
    const agentNode = nodes.findIndex((n) => n.url === onlineAt(alpha.stderr()));
    const machineId = (await listMachines(url(agentNode), one.api_key))
      .find((m) => m.hostname === "alpha")!.id;
    const sessionsAt = (i: number) => nodes[i].stderr().split(`: exec on ${machineId}`).length;
    // Round robin: within a few tries the client's session lands on a node without alpha's agent.
    let exec: StreamingCli | undefined;
    let clientNode = -1;
    for (let attempt = 0; attempt < 6 && clientNode < 0; attempt++) {
      const before = nodes.map((_, i) => sessionsAt(i));
      const tried = streamCli(
        ["connect", "exec", "alpha", "--", "sh", "-c", TICKS],
        await envAt(lb.url),
      );
      await tried.endInput();
      await waitFor("the command's first lines", () => /tick-2\n/.test(tried.stdout()));
      const serving = [1, 2].find((i) => sessionsAt(i) > before[i]);
      if (serving !== undefined && serving !== agentNode) {
        [exec, clientNode] = [tried, serving];
      } else {
        tried.child.kill("SIGTERM");
        await tried.status;
      }
    }
    assert.ok(exec, "no session landed on a node without alpha's agent in 6 tries");
    await nodes[clientNode].kill();
    await waitFor("the client to hear why", () => /connection to "alpha" lost/.test(exec.stderr()));
    assertTicked(exec, await exec.status);
  });

  it("takes a restarted node back into the cluster", async () => {
    // On a port of its own: the old one may have been taken by anything since the node died.
    const reborn = await startNode(services.pg.url, services.nats.url, "a");
    const r = await runCmdop(["connect", "exec", "alpha", "--", "sh", "-c", ECHO_MARKER], {
      env: await envAt(reborn.url),
    });
    assert.equal(r.stdout, "alpha\n");
  });
});
