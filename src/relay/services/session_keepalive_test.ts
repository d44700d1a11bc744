import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import {
  type SessionInput,
  SessionInputSchema,
  type SessionOutput,
  SessionOutputSchema,
} from "../../../gen/cmdop/v1/session_pb.ts";
import { AsyncQueue } from "../../lib/async_queue.ts";
import type { DialedSession } from "../bus/bus.ts";
import { SessionKeepalive } from "./session_keepalive.ts";

function fakeDialed() {
  const frames = new AsyncQueue<SessionOutput>();
  const sent: SessionInput[] = [];
  let pulls = 0;
  const counted: AsyncIterable<SessionOutput> = {
    [Symbol.asyncIterator]: () => {
      const inner = frames[Symbol.asyncIterator]();
      return { next: () => (pulls++, inner.next()), return: inner.return };
    },
  };
  const dialed: DialedSession = {
    frames: counted,
    send: (input) => (sent.push(input), true),
    end: () => {},
  };
  return { frames, sent, dialed, pulls: () => pulls };
}

const output = (msg: SessionOutput["msg"]) => create(SessionOutputSchema, { msg } as never);

describe("SessionKeepalive", () => {
  it("answers the client's pings itself and keeps the agent's answers from the client", async () => {
    const agent = fakeDialed();
    const keepalive = new SessionKeepalive({
      intervalMs: 60_000,
      clientIntervalMs: 0,
      hostname: "web-1",
      sessionId: "s",
      dialed: agent.dialed,
      hangUp: () => {},
      log: () => {},
    });
    const out = keepalive.outputs(agent.dialed.frames)[Symbol.asyncIterator]();
    const ping = create(SessionInputSchema, {
      msg: { case: "keepalive", value: { sentMs: 42n } },
    });
    assert.equal(keepalive.fromClient(ping), true);
    const answer = await out.next();
    assert.deepEqual(answer.value?.msg, {
      case: "keepalive",
      value: create(SessionOutputSchema, {
        msg: { case: "keepalive", value: { sentMs: 42n, reply: true } },
      }).msg.value,
    });
    agent.frames.push(output({ case: "keepalive", value: { reply: true } as never }));
    agent.frames.push(output({ case: "credit", value: 5 }));
    assert.equal((await out.next()).value?.msg.case, "credit");
    agent.frames.close();
    assert.equal((await out.next()).done, true);
  });

  it("reads the agent's next frame only after the client took the last one", async () => {
    const agent = fakeDialed();
    const keepalive = new SessionKeepalive({
      intervalMs: 60_000,
      clientIntervalMs: 0,
      hostname: "web-1",
      sessionId: "s",
      dialed: agent.dialed,
      hangUp: () => {},
      log: () => {},
    });
    for (let i = 0; i < 5; i++) agent.frames.push(output({ case: "credit", value: i + 1 }));
    const out = keepalive.outputs(agent.dialed.frames)[Symbol.asyncIterator]();
    await out.next();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(agent.pulls(), 1, "frames were read ahead of the client");
    await out.next();
    assert.equal(agent.pulls(), 2);
    keepalive.stop();
    await out.return?.(undefined);
  });

  it("ends the session and hangs up when the agent stops answering", async () => {
    const agent = fakeDialed();
    let hungUp = 0;
    const keepalive = new SessionKeepalive({
      intervalMs: 40,
      clientIntervalMs: 0,
      hostname: "web-1",
      sessionId: "s",
      dialed: agent.dialed,
      hangUp: () => hungUp++,
      log: () => {},
    });
    const out = keepalive.outputs(agent.dialed.frames)[Symbol.asyncIterator]();
    const error = await out.next().then(() => undefined, (e) => e);
    assert.ok(error instanceof ConnectError);
    assert.match(error.rawMessage, /^machine "web-1" stopped answering \(nothing heard for 0 s\)$/);
    assert.equal(error.metadata.get("cmdop-reason"), "stopped-answering");
    assert.equal(hungUp, 1);
    assert.ok(agent.sent.some((s) => s.msg.case === "keepalive"), "the agent was pinged");
  });

  it("outputs() fails with the signal's reason once it is aborted, mid-wait for the agent", async () => {
    const agent = fakeDialed();
    const keepalive = new SessionKeepalive({
      intervalMs: 60_000,
      clientIntervalMs: 0,
      hostname: "web-1",
      sessionId: "s",
      dialed: agent.dialed,
      hangUp: () => {},
      log: () => {},
    });
    const access = new AbortController();
    const out = keepalive.outputs(agent.dialed.frames, access.signal)[Symbol.asyncIterator]();
    agent.frames.push(output({ case: "credit", value: 5 }));
    assert.equal((await out.next()).value?.msg.case, "credit");
    const waiting = out.next();
    const revoked = new ConnectError("the share link was revoked");
    access.abort(revoked);
    await assert.rejects(waiting, (error) => error === revoked);
    assert.equal((await out.next()).done, true);
  });
});
