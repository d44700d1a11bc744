/** NatsBus against a real nats-server: cross-node dial, end-to-end credit, overruns and dead nodes. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import {
  type SessionInput,
  SessionInputSchema,
  type SessionOutput,
  SessionOutputSchema,
} from "../../gen/cmdop/v1/session_pb.ts";
import { AsyncQueue } from "../../src/lib/async_queue.ts";
import { AgentUnreachableError, type DialedSession } from "../../src/relay/bus/bus.ts";
import { NatsBus } from "../../src/relay/bus/nats.ts";
import { NodeWatch } from "../../src/relay/cluster/node_watch.ts";
import type { PresenceRegistry, RemotePresence } from "../../src/relay/cluster/presence.ts";
import { clusterSkipReason } from "./_cluster.ts";
import { type ServiceProcess, startNats } from "./_services.ts";

const skip = await clusterSkipReason("NatsBus");

/** Presence in a shared map: these tests are about routing, not leases. */
function memoryPresence(shared: Map<string, RemotePresence>): PresenceRegistry {
  return {
    start: () => Promise.resolve(),
    claim: (machineId, _link, since) => void shared.set(machineId, { lastSeenMs: since }),
    release: (machineId) => {
      shared.delete(machineId);
      return Promise.resolve();
    },
    heartbeat: () => {},
    lookup: (ids) =>
      Promise.resolve(
        new Map(ids.filter((id) => shared.has(id)).map((id) => [id, shared.get(id)!])),
      ),
    close: () => Promise.resolve(),
  };
}

interface Node {
  bus: NatsBus;
  nc: NatsConnection;
}

/** The agent's end as the relay sees it: frames it emits, inputs it receives. */
interface FakeAgentSession {
  outputs: AsyncQueue<SessionOutput>;
  inputs: SessionInput[];
  ended: Promise<void>;
}

function output(msg: SessionOutput["msg"]): SessionOutput {
  return create(SessionOutputSchema, { msg } as never);
}

function input(msg: SessionInput["msg"]): SessionInput {
  return create(SessionInputSchema, { msg } as never);
}

/** Holds `machineId` on `holder`; every dial makes the agent dial back to `dialBackTo`. */
function fakeAgent(holder: Node, dialBackTo: Node, machineId: string): FakeAgentSession[] {
  const sessions: FakeAgentSession[] = [];
  holder.bus.attachAgent(machineId, {
    send(command) {
      if (command.msg.case !== "dial") return true;
      const ended = Promise.withResolvers<void>();
      const session: FakeAgentSession = {
        outputs: new AsyncQueue<SessionOutput>(),
        inputs: [],
        ended: ended.promise,
      };
      sessions.push(session);
      const dialed: DialedSession = {
        frames: session.outputs,
        send: (frame) => (session.inputs.push(frame), true),
        end: () => ended.resolve(),
      };
      const { sessionId } = command.msg.value;
      setTimeout(() => dialBackTo.bus.acceptDial(machineId, sessionId, dialed), 5);
      return true;
    },
  });
  return sessions;
}

async function until(what: string, predicate: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function collect(frames: AsyncIterable<SessionOutput>): Promise<SessionOutput[]> {
  const all: SessionOutput[] = [];
  for await (const frame of frames) all.push(frame);
  return all;
}

describe("NatsBus", { skip }, () => {
  let nats: ServiceProcess;
  const presence = new Map<string, RemotePresence>();
  const nodes: Node[] = [];

  async function startNode(): Promise<Node> {
    const nc = await connect({ servers: nats.url });
    const instanceId = crypto.randomUUID();
    const watch = new NodeWatch({ nc, instanceId, intervalMs: 100, silenceMs: 600 });
    watch.start();
    const bus = new NatsBus({
      nc,
      watch,
      presence: memoryPresence(presence),
      instanceId,
      now: Date.now,
      log: () => {},
      dialTimeoutMs: 3_000,
    });
    const node = { bus, nc };
    nodes.push(node);
    return node;
  }

  before(async () => {
    nats = await startNats();
  });
  after(async () => {
    for (const node of nodes) await node.bus.close().catch(() => {});
    await nats?.stop();
  });

  it("dials an agent held by another node and carries frames both ways", async () => {
    const [holder, client] = [await startNode(), await startNode()];
    const machineId = crypto.randomUUID();
    const agent = fakeAgent(holder, holder, machineId);
    assert.equal((await client.bus.presence([machineId])).get(machineId)?.online, true);

    const session = await client.bus.dial(
      machineId,
      crypto.randomUUID(),
      new AbortController().signal,
    );
    session.send(input({ case: "open", value: { windowBytes: 1 << 20 } as never }));
    session.send(input({ case: "data", value: new Uint8Array(3) }));
    await until("inputs to reach the agent", () => agent[0]?.inputs.length === 2);
    assert.equal(agent[0].inputs[0].msg.case, "open");

    const data = new Uint8Array(600 * 1024).fill(7);
    agent[0].outputs.push(output({ case: "output", value: { data } as never }));
    const frames = session.frames[Symbol.asyncIterator]();
    let received = 0;
    while (received < data.length) {
      const next = await frames.next();
      assert.equal(next.value.msg.case, "output");
      received += next.value.msg.value.data.length;
    }
    assert.equal(received, data.length, "a frame larger than a NATS message arrives whole");

    session.send(input({ case: "credit", value: 10 << 20 }));
    await until("the credit", () => agent[0].inputs.some((i) => i.msg.case === "credit"));
    const credit = agent[0].inputs.find((i) => i.msg.case === "credit")!.msg.value;
    assert.equal(credit, data.length, "credit is clamped to the bytes delivered");

    agent[0].outputs.push(output({ case: "exit", value: { code: 3 } as never }));
    agent[0].outputs.close();
    assert.equal((await frames.next()).value.msg.case, "exit");
    assert.equal((await frames.next()).done, true);
    session.end();
    await agent[0].ended;
  });

  it("bridges a dial-back that lands on a third node", async () => {
    const [holder, client, third] = [await startNode(), await startNode(), await startNode()];
    const machineId = crypto.randomUUID();
    const agent = fakeAgent(holder, third, machineId);
    const session = await client.bus.dial(
      machineId,
      crypto.randomUUID(),
      new AbortController().signal,
    );
    agent[0].outputs.push(output({ case: "exit", value: { code: 0 } as never }));
    agent[0].outputs.close();
    assert.deepEqual((await collect(session.frames)).map((f) => f.msg.case), ["exit"]);
  });

  it("passes an agent's answer to a ping to the node that holds its control stream", async () => {
    const [holder, other] = [await startNode(), await startNode()];
    const machineId = crypto.randomUUID();
    let answers = 0;
    holder.bus.attachAgent(machineId, { send: () => true, answered: () => answers++ });
    await holder.nc.flush();
    // The agent's heartbeat call reached the other node (a load balancer's choice).
    other.bus.heartbeat(machineId, Date.now());
    await until("the answer to reach the holder", () => answers === 1);
    holder.bus.heartbeat(machineId, Date.now());
    assert.equal(answers, 2);
    // A machine no node holds: nothing to record, and nothing fails.
    other.bus.heartbeat(crypto.randomUUID(), Date.now());
  });

  it("answers offline at once when no node holds the agent", async () => {
    const client = await startNode();
    const started = Date.now();
    await assert.rejects(
      client.bus.dial(crypto.randomUUID(), crypto.randomUUID(), new AbortController().signal),
      AgentUnreachableError,
    );
    assert.ok(Date.now() - started < 1_000, "no responders is an answer, not a timeout");
  });

  it("hangs up an agent that sends past the client's window", async () => {
    const [holder, client] = [await startNode(), await startNode()];
    const machineId = crypto.randomUUID();
    const agent = fakeAgent(holder, holder, machineId);
    const session = await client.bus.dial(
      machineId,
      crypto.randomUUID(),
      new AbortController().signal,
    );
    session.send(input({ case: "open", value: { windowBytes: 64 * 1024 } as never }));
    await until("the open frame", () => agent[0]?.inputs.length === 1);
    const chunk = new Uint8Array(64 * 1024);
    for (let i = 0; i < 16; i++) {
      agent[0].outputs.push(output({ case: "output", value: { data: chunk } as never }));
    }
    const frames = await collect(session.frames);
    assert.ok(frames.every((f) => f.msg.case !== "exit"), "the session ended without an exit");
    await until("the hang-up", () => agent[0].inputs.some((i) => i.msg.case === "close"));
  });

  it("ends a bridged session when the agent's node goes silent", async () => {
    const [holder, client] = [await startNode(), await startNode()];
    const machineId = crypto.randomUUID();
    fakeAgent(holder, holder, machineId);
    const session = await client.bus.dial(
      machineId,
      crypto.randomUUID(),
      new AbortController().signal,
    );
    const started = Date.now();
    // A crash: the connection drops without the node's goodbye.
    await holder.nc.close();
    assert.deepEqual(await collect(session.frames), []);
    assert.ok(Date.now() - started < 3_000, "the silence was noticed within a few heartbeats");
  });

  it("refuses a dial-back that names another machine's session", async () => {
    const client = await startNode();
    const machineId = crypto.randomUUID();
    const other = crypto.randomUUID();
    const holder = await startNode();
    holder.bus.attachAgent(machineId, {
      send(command) {
        if (command.msg.case !== "dial") return true;
        const sessionId = command.msg.value.sessionId;
        const dialed = { frames: new AsyncQueue<SessionOutput>(), send: () => true, end() {} };
        assert.equal(client.bus.acceptDial(other, sessionId, dialed), false);
        return true;
      },
    });
    await assert.rejects(
      client.bus.dial(machineId, crypto.randomUUID(), AbortSignal.timeout(500)),
    );
  });
});
