/** A machine's credential cannot take another machine's name, nor orphan the real agent with a second control stream. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { AgentService } from "../../gen/cmdop/v1/agent_pb.ts";
import { createRelayTransport } from "../../src/lib/transport.ts";
import {
  type AgentProcess,
  clientEnv,
  killAll,
  type RelayProcess,
  runCmdop,
  startAgent,
  startRelay,
  waitFor,
  type Workspace,
} from "../_harness.ts";

async function credentialOf(agent: AgentProcess): Promise<string> {
  return JSON.parse(await Deno.readTextFile(join(agent.stateDir, "agent.json"))).credential;
}

function agentClient(relay: RelayProcess, credential: string) {
  return createClient(
    AgentService,
    createRelayTransport({ baseUrl: relay.url, bearer: credential }),
  );
}

const hello = (hostname: string, displayName = "") => ({
  hostname,
  displayName,
  os: "linux",
  arch: "x86_64",
  agentVersion: "test",
});

describe("machine identity", () => {
  let relay: RelayProcess;
  let ws: Workspace;
  let env: Record<string, string>;
  let one: AgentProcess;

  before(async () => {
    relay = await startRelay();
    ws = await relay.createWorkspace("acme");
    env = await clientEnv(relay.url, ws.api_key);
    [one] = await Promise.all([
      startAgent(relay.url, ws.enroll_token, { hostname: "alpha-one", displayName: "Alpha One" }),
      startAgent(relay.url, ws.enroll_token, { hostname: "alpha-two", displayName: "Alpha Two" }),
    ]);
  });
  after(killAll);

  it("a control stream cannot set its hostname to another machine's name", async () => {
    const client = agentClient(relay, await credentialOf(one));
    for (const name of ["Alpha Two", "alpha-two", "ALPHA-TWO"]) {
      await assert.rejects(
        (async () => {
          for await (const _ of client.control(hello(name, "Alpha One"))) break;
        })(),
        (error: unknown) => {
          assert.equal(ConnectError.from(error).code, Code.AlreadyExists, String(error));
          assert.match(String(error), /is already used by machine/);
          return true;
        },
      );
    }
    const r = await runCmdop(["connect", "exec", "Alpha Two", "--", "sh", "-c", "echo $0"], {
      env,
    });
    const list = await runCmdop(["connect", "--list", "--json"], { env });
    const names = JSON.parse(list.stdout).map((m: { hostname: string }) => m.hostname).sort();
    assert.deepEqual(names, ["alpha-one", "alpha-two"], list.stdout);
    assert.equal(r.code, 0, r.stderr);
  });

  it("an agent cannot enroll under a name the workspace already uses", async () => {
    const taken = await startAgent(relay.url, ws.enroll_token, {
      hostname: "alpha-three",
      displayName: "alpha-ONE",
      waitOnline: false,
    });
    await waitFor("the agent to give up", () => /already used by machine/.test(taken.stderr()));
  });

  it("of 20 concurrent enrollments under one name, exactly one succeeds", async () => {
    const client = createClient(AgentService, createRelayTransport({ baseUrl: relay.url }));
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        client.enroll({
          enrollToken: ws.enroll_token,
          // Each spells the name its own way: the check ignores case.
          hostname: i % 2 ? "Race-Box" : "race-box",
          displayName: "",
          os: "linux",
          arch: "x86_64",
          agentVersion: "test",
          // bcrypt runs between the name check and the write when they are separate steps.
          password: "race-password",
        })),
    );
    const ok = results.filter((r) => r.status === "fulfilled");
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    assert.equal(ok.length, 1, refused.map((r) => String(r.reason)).join("\n"));
    for (const r of refused) {
      assert.equal(ConnectError.from(r.reason).code, Code.AlreadyExists, String(r.reason));
    }
    const list = await runCmdop(["connect", "--list", "--json"], { env });
    const racers = JSON.parse(list.stdout).filter((m: { hostname: string }) =>
      m.hostname.toLowerCase() === "race-box"
    );
    assert.equal(racers.length, 1, list.stdout);
  });

  it("a second control stream with the same credential does not orphan the real agent", async () => {
    const client = agentClient(relay, await credentialOf(one));
    const intruder = new AbortController();
    let intruderEnded = "";
    const stream = (async () => {
      try {
        for await (
          const _ of client.control(hello("alpha-one", "Alpha One"), {
            signal: intruder.signal,
          })
        ) { /* holds the stream */ }
        intruderEnded = "ended";
      } catch (error) {
        intruderEnded = String(error);
      }
    })();
    // The real agent is told and reconnects, which in turn closes the intruder's stream.
    await waitFor("the real agent to be told", () => /newer connection/.test(one.stderr()), 20_000)
      .catch(() => {});
    await Promise.race([stream, new Promise((r) => setTimeout(r, 5_000))]);
    intruder.abort();
    await stream;
    // Presence follows the live stream: the machine is reachable once the intruder is gone.
    let last = "";
    await waitFor("exec to reach the real agent", async () => {
      const r = await runCmdop(["connect", "exec", "alpha-one", "--", "true"], { env });
      last = r.stderr;
      return r.code === 0;
    }, 30_000).catch((error) => {
      throw new Error(`${error.message}: ${last}`);
    });
    assert.match(intruderEnded, /newer connection/);
  });
});
