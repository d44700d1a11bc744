/** Two relay nodes on one store and bus: attach-password lock-outs count across nodes, and a machine has one live control stream wherever its streams land. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { AgentService } from "../../gen/cmdop/v1/agent_pb.ts";
import { MachineService } from "../../gen/cmdop/v1/machine_pb.ts";
import { REPLACED } from "../../src/relay/bus/bus.ts";
import { createRelayTransport } from "../../src/lib/transport.ts";
import {
  type AgentProcess,
  clientEnv,
  killAll,
  MACHINE_VARIABLE,
  type RelayProcess,
  runCmdop,
  startAgent,
  waitFor,
  type Workspace,
} from "../_harness.ts";
import { type TestClock, testClock } from "../_login.ts";
import {
  type ClusterServices,
  clusterSkipReason,
  createClusterWorkspace,
  listMachines,
  startClusterServices,
  startNode,
} from "./_cluster.ts";

const skip = await clusterSkipReason("cluster lock-outs and machine identity");
const PASSWORD = "correct horse";

async function credentialOf(agent: AgentProcess): Promise<string> {
  return JSON.parse(await Deno.readTextFile(join(agent.stateDir, "agent.json"))).credential;
}

/** A control stream opened by hand with a machine's credential, as a copied credential would be used. */
interface RawControl {
  welcomed: boolean;
  /** How the stream ended (the error's text), once it has. */
  ended?: string;
  close(): Promise<void>;
}

function openControl(relayUrl: string, credential: string, hostname: string): RawControl {
  const client = createClient(
    AgentService,
    createRelayTransport({ baseUrl: relayUrl, bearer: credential }),
  );
  const abort = new AbortController();
  const control: RawControl = {
    welcomed: false,
    close: async () => {
      abort.abort();
      await done;
    },
  };
  // No answersPings: the relay believes the stream for as long as it stays open.
  const hello = { hostname, displayName: "", os: "linux", arch: "x86_64", agentVersion: "test" };
  const done = (async () => {
    try {
      for await (const command of client.control(hello, { signal: abort.signal })) {
        if (command.msg.case === "welcome") control.welcomed = true;
      }
      control.ended = "ended";
    } catch (error) {
      control.ended = String(error);
    }
  })();
  return control;
}

describe("cluster guards across nodes", { skip }, () => {
  let services: ClusterServices;
  let nodes: RelayProcess[];
  let clock: TestClock;
  let ws: Workspace;
  let guarded: AgentProcess;
  let alpha: AgentProcess;

  const online = async (node: RelayProcess, hostname: string) =>
    (await listMachines(node.url, ws.api_key)).find((m) => m.hostname === hostname)?.online;

  before(async () => {
    clock = await testClock();
    services = await startClusterServices();
    nodes = await Promise.all(
      ["a", "b"].map((id) => startNode(services.pg.url, services.nats.url, id, { env: clock.env })),
    );
    ws = await createClusterWorkspace(services.pg.url, "acme");
    // Both agents know node a only: the other node reaches them through the bus.
    [guarded, alpha] = await Promise.all([
      startAgent(nodes[0].url, ws.enroll_token, { hostname: "guarded", password: PASSWORD }),
      startAgent(nodes[0].url, ws.enroll_token, { hostname: "alpha" }),
    ]);
  });

  after(async () => {
    await killAll();
    await services?.stop();
  });

  it("counts wrong passwords sent to both nodes together; the lock-out holds on both", async () => {
    const clients = nodes.map((node) =>
      createClient(MachineService, createRelayTransport({ baseUrl: node.url, bearer: ws.api_key }))
    );
    const { machines } = await clients[0].listMachines({});
    const machineId = machines.find((m) => m.hostname === "guarded")!.id;
    const unlock = (node: number, password: string) =>
      clients[node].unlockMachine({ machineId, password }).then(
        () => "unlocked",
        (error) => {
          const code = ConnectError.from(error).code;
          if (code === Code.Unauthenticated) return "wrong";
          if (code === Code.ResourceExhausted && /too many wrong passwords/.test(String(error))) {
            return "locked";
          }
          return String(error);
        },
      );
    // Held still: the 1 s lock-out lasts however slowly the calls come.
    await clock.freeze();
    try {
      // 3 free failures per source, and the 4th earns a lock-out: two guesses on each node.
      const checked = [];
      for (let i = 0; i < 4; i++) checked.push(await unlock(i % 2, `guess-${i}`));
      assert.deepEqual(checked, ["wrong", "wrong", "wrong", "wrong"]);
      // Counted per node, each node would have seen two failures and checked the next guess.
      assert.equal(await unlock(0, "guess-4"), "locked", "node a");
      assert.equal(await unlock(1, "guess-5"), "locked", "node b");
      // Not even the right password is checked while it lasts, on either node.
      assert.equal(await unlock(0, PASSWORD), "locked", "node a, right password");
      assert.equal(await unlock(1, PASSWORD), "locked", "node b, right password");
      await clock.advance(1_100);
      assert.equal(await unlock(1, PASSWORD), "unlocked", "once the lock-out has passed");
    } finally {
      await clock.resume();
    }
    assert.match(guarded.stderr(), /online as machine/);
  });

  it("a second control stream on the other node replaces the agent's; the agent takes it back", async () => {
    const credential = await credentialOf(alpha);
    const { machines } = await createClient(
      MachineService,
      createRelayTransport({ baseUrl: nodes[0].url, bearer: ws.api_key }),
    ).listMachines({});
    const machineId = machines.find((m) => m.hostname === "alpha")!.id;
    const onlineLines = () => alpha.stderr().match(/online as machine/g)?.length ?? 0;
    const before = onlineLines();
    const intruder = openControl(nodes[1].url, credential, "alpha");
    try {
      // Node b takes the machine; node a tells its agent why and closes that stream.
      await waitFor("the agent on node a to be told", () => alpha.stderr().includes(REPLACED));
      await waitFor(
        "node a to close the older stream",
        () =>
          nodes[0].stderr().includes(
            `machine ${machineId} (alpha): older connection closed, a newer one took over`,
          ),
      );
      // The agent dials again (node a is its only server) and is the newest in turn.
      await waitFor("the agent to reconnect", () => onlineLines() > before);
      await waitFor("the stream on node b to end", () => intruder.ended !== undefined);
      assert.equal(intruder.welcomed, true, "node b had accepted the second stream");
      assert.match(intruder.ended!, new RegExp(REPLACED));
      // Presence and routing follow the live stream: the real agent runs the command.
      for (const node of nodes) assert.equal(await online(node, "alpha"), true, node.url);
      const r = await runCmdop(
        ["connect", "exec", "alpha", "--", "sh", "-c", `echo "$${MACHINE_VARIABLE}"`],
        { env: await clientEnv(nodes[1].url, ws.api_key) },
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${alpha.marker}\n`);
    } finally {
      await intruder.close();
    }
  });

  it("keeps a machine online while its newer stream lives on the other node, offline once it ends", async () => {
    // A machine whose agent has stopped: two streams of its credential stand in for it.
    const beta = await startAgent(nodes[0].url, ws.enroll_token, { hostname: "beta" });
    const credential = await credentialOf(beta);
    await beta.stop();
    for (const node of nodes) {
      await waitFor(
        `beta offline on ${node.url}`,
        async () => await online(node, "beta") === false,
      );
    }
    const older = openControl(nodes[0].url, credential, "beta");
    let newer: RawControl | undefined;
    try {
      await waitFor("the stream on node a to be welcomed", () => older.welcomed);
      await waitFor("beta online on node b", async () => await online(nodes[1], "beta") === true);
      newer = openControl(nodes[1].url, credential, "beta");
      await waitFor("the stream on node b to be welcomed", () => newer!.welcomed);
      await waitFor("the older stream on node a to be ended", () => older.ended !== undefined);
      assert.match(older.ended!, new RegExp(REPLACED));
      // The older stream's end must not take the machine's presence with it: watch a while.
      const watchUntil = Date.now() + 3_000;
      while (Date.now() < watchUntil) {
        for (const node of nodes) {
          assert.equal(await online(node, "beta"), true, `beta offline on ${node.url}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(newer.ended, undefined, "the newer stream stays open");
      await newer.close();
      for (const node of nodes) {
        await waitFor(
          `beta offline on ${node.url} once the live stream ended`,
          async () => await online(node, "beta") === false,
        );
      }
    } finally {
      await older.close();
      await newer?.close();
    }
  });
});
