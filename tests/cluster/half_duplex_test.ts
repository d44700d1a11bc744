/** Half-duplex sessions in a cluster: input calls landing on another node than the session's output stream reach it over NATS, with the same checks. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import { Code, type ConnectError, createClient } from "@connectrpc/connect";
import { SessionKind, SessionService } from "../../gen/cmdop/v1/session_pb.ts";
import { createRelayTransport } from "../../src/lib/transport.ts";
import {
  clientEnv,
  killAll,
  type RelayProcess,
  runCmdop,
  startAgent,
  type Workspace,
} from "../_harness.ts";
import {
  type ClusterServices,
  clusterSkipReason,
  createClusterWorkspace,
  listMachines,
  startClusterServices,
  startNode,
} from "./_cluster.ts";
import { type ServiceProcess, startHaproxy } from "./_services.ts";

const skip = await clusterSkipReason("half-duplex sessions in a cluster", ["haproxy"]);
const encoder = new TextEncoder();
const data = (text: string) => ({ msg: { case: "data" as const, value: encoder.encode(text) } });

describe("half-duplex sessions in a relay cluster", { skip }, () => {
  let services: ClusterServices;
  let nodes: RelayProcess[];
  let lb: ServiceProcess;
  let one: Workspace;
  let two: Workspace;
  let machineId = "";

  const sessionsAt = (node: RelayProcess, bearer: string) =>
    createClient(SessionService, createRelayTransport({ baseUrl: node.url, bearer }));

  before(async () => {
    services = await startClusterServices();
    nodes = await Promise.all(
      ["a", "b"].map((id) => startNode(services.pg.url, services.nats.url, id)),
    );
    lb = await startHaproxy(nodes.map((n) => Number(new URL(n.url).port)), { mode: "http" });
    one = await createClusterWorkspace(services.pg.url, "one");
    two = await createClusterWorkspace(services.pg.url, "two");
    // The agent is held by node a; output streams are opened on node b.
    await startAgent(nodes[0].url, one.enroll_token, { hostname: "held-by-a" });
    for (let i = 0; !machineId; i++) {
      const found = (await listMachines(nodes[1].url, one.api_key)).find((m) => m.online);
      if (found) machineId = found.id;
      else if (i > 300) throw new Error("the agent never came online");
      else await new Promise((r) => setTimeout(r, 100));
    }
  });
  after(async () => {
    await killAll();
    await lb?.stop();
    await services?.stop();
  });

  it("input sent to either node reaches the session whose output streams from node b; other credentials and wrong tokens are refused there too", async () => {
    const outputs = sessionsAt(nodes[1], one.api_key).halfSession({
      machineId,
      kind: SessionKind.EXEC,
      argv: ["cat"],
      windowBytes: 1 << 20,
    })[Symbol.asyncIterator]();
    const head = (await outputs.next()).value;
    assert.equal(head?.msg.case, "halfDuplex");
    const { sessionId, inputToken } = head.msg.value;
    const viaA = sessionsAt(nodes[0], one.api_key);

    const refused = async (call: Promise<unknown>, code: Code, what: string) =>
      await assert.rejects(call, (error: ConnectError) => {
        assert.equal(error.code, code, `${what}: ${error.message}`);
        return true;
      });
    await refused(
      viaA.sendInput({ sessionId, inputToken: inputToken + "x", frames: [data("bad token\n")] }),
      Code.PermissionDenied,
      "a wrong token on node a",
    );
    await refused(
      sessionsAt(nodes[0], two.api_key).sendInput({ sessionId, inputToken, frames: [data("x\n")] }),
      Code.PermissionDenied,
      "another workspace's key on node a",
    );
    await refused(
      viaA.sendInput({ sessionId: crypto.randomUUID(), inputToken, frames: [data("lost\n")] }),
      Code.NotFound,
      "a session no node holds",
    );

    await viaA.sendInput({ sessionId, inputToken, frames: [data("from a\n")] });
    await sessionsAt(nodes[1], one.api_key).sendInput({
      sessionId,
      inputToken,
      frames: [data("from b\n")],
    });
    await viaA.sendInput({ sessionId, inputToken, frames: [data("")] });
    let text = "";
    let exit: number | undefined;
    for (let next = await outputs.next(); !next.done; next = await outputs.next()) {
      const msg = next.value.msg;
      if (msg.case === "output") text += new TextDecoder().decode(msg.value.data);
      if (msg.case === "exit") exit = msg.value.code;
    }
    assert.equal(text, "from a\nfrom b\n");
    assert.equal(exit, 0);
    // The session is over: its input goes nowhere.
    await refused(
      viaA.sendInput({ sessionId, inputToken, frames: [data("late\n")] }),
      Code.NotFound,
      "input after the end",
    );
  });

  it("CMDOP_TRANSPORT=half exec through a round-robin load balancer: stdin, output and exit code intact", async () => {
    const env = { ...(await clientEnv(lb.url, one.api_key)), CMDOP_TRANSPORT: "half" };
    const input = "round and round\n".repeat(20_000);
    const r = await runCmdop(["connect", "exec", "held-by-a", "--", "sh", "-c", "cat; exit 6"], {
      env,
      stdin: input,
    });
    assert.equal(r.code, 6, r.stderr);
    assert.equal(r.stdout, input);
    assert.equal(r.stderr, "");
    const calls = nodes.map((n) =>
      n.stderr().match(/SessionService\/SendInput code=ok/g)?.length ?? 0
    );
    assert.ok(calls.every((n) => n > 0), `input calls per node: ${calls.join(", ")}`);
  });
});
