import { describe, it } from "../../tests/_suite.ts";
import assert from "node:assert/strict";
import { encodeDialFrame } from "../protocol/lean/cmdop/v1/agent_lean.ts";
import {
  decodeSessionInput,
  encodeSessionInput,
  SessionKind,
} from "../protocol/lean/cmdop/v1/session_lean.ts";
import type { SessionInputInit } from "../lib/wire/session_codec.ts";
import { memoryRelay } from "./_memory_relay.ts";
import { createSessionCalls } from "./services/session_service.ts";
import { dialStream, sessionStream } from "./spliced_streams.ts";
import { serveBidi, serveBidiPush } from "./wire/bidi_stream.ts";

function envelope(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + message.length);
  new DataView(out.buffer).setUint32(1, message.length);
  out.set(message, 5);
  return out;
}

/** A request body (a byte stream, as Deno's are) whose pieces the test pushes as it likes. */
function pushedBody() {
  let controller!: ReadableByteStreamController;
  const body = new ReadableStream({
    type: "bytes",
    start: (c) => void (controller = c),
  });
  return {
    body,
    push: (bytes: Uint8Array) => controller.enqueue(bytes.slice()),
    end: () => {
      controller.close();
      // A BYOB read waiting when the stream closes is answered by an empty response.
      controller.byobRequest?.respond(0);
    },
  };
}

/** Each envelope's message of a response body, as bytes. */
async function envelopes(body: ReadableStream<Uint8Array>, into: Uint8Array[]): Promise<void> {
  let buffered = new Uint8Array(0);
  for await (const piece of body) {
    const joined = new Uint8Array(buffered.length + piece.length);
    joined.set(buffered);
    joined.set(piece, buffered.length);
    buffered = joined;
    while (buffered.length >= 5) {
      const length = new DataView(buffered.buffer, buffered.byteOffset).getUint32(1);
      if (buffered.length < 5 + length) break;
      if (buffered[0] === 0) into.push(buffered.slice(5, 5 + length));
      buffered = buffered.subarray(5 + length);
    }
  }
}

/** A data frame with its length written in two varint bytes: valid, and not what an encoder writes. */
function paddedData(byte: number): Uint8Array {
  return new Uint8Array([0x12, 0x81, 0x00, byte]);
}

/**
 * A relay's session and dial streams served in process, an agent that dials back at once, and
 * a client whose request body the test writes; resolves what the agent was sent, once the
 * client's body ends and the relay hangs up.
 */
async function splice(
  client: (
    push: (bytes: Uint8Array) => void,
    agentSays: (frame: Uint8Array) => void,
  ) => Promise<void>,
) {
  await using relay = await memoryRelay();
  const ws = await relay.workspace("acme");
  const machine = await ws.machine("web-1");
  const calls = createSessionCalls(relay.deps);
  const toAgent: Uint8Array[] = [];
  let agentDone: Promise<void> | undefined;
  let agentBody: ReturnType<typeof pushedBody> | undefined;
  relay.deps.bus.attachAgent(machine.id, {
    send(command) {
      if (command.msg.case !== "dial") return true;
      const sessionId = command.msg.value.sessionId;
      agentBody = pushedBody();
      const response = serveBidiPush(
        new Request("http://relay/cmdop.v1.AgentService/Dial", {
          method: "POST",
          body: agentBody.body,
        }),
        new Headers({ authorization: `Bearer cmm_${machine.id}.secret-of-web-1` }),
        1 << 20,
        (inputs, sink, call) => dialStream(relay.deps, inputs, sink, call),
      );
      agentBody.push(envelope(encodeDialFrame({ sessionId })));
      agentDone = envelopes(response.body!, toAgent);
      return true;
    },
  });
  const clientBody = pushedBody();
  const response = serveBidi(
    new Request("http://relay/cmdop.v1.SessionService/Session", {
      method: "POST",
      body: clientBody.body,
    }),
    new Headers({ authorization: `Bearer ${ws.apiKey}`, "cmdop-peer": "192.0.2.7" }),
    1 << 20,
    (inputs, call) => sessionStream(calls, inputs, call),
  );
  const fromRelay: Uint8Array[] = [];
  const clientDone = envelopes(response.body!, fromRelay);
  const open: SessionInputInit = {
    msg: { case: "open", value: { machineId: machine.id, kind: SessionKind.PTY, rows: 24 } },
  };
  clientBody.push(envelope(encodeSessionInput(open)));
  while (!agentDone) await new Promise((resolve) => setTimeout(resolve, 5));
  await client(clientBody.push, (frame) => agentBody!.push(envelope(frame)));
  clientBody.end();
  await agentDone;
  agentBody!.end();
  await clientDone.catch(() => {});
  return toAgent;
}

describe("the relay's spliced session streams", () => {
  it("send the client's input on to the agent as the bytes the client encoded", async () => {
    const sent = [paddedData(0x61), paddedData(0x62), paddedData(0x63), paddedData(0x64)];
    const toAgent = await splice(async (push) => {
      // Many frames in one read, then one cut across three reads.
      push(new Uint8Array([...envelope(sent[0]), ...envelope(sent[1]), ...envelope(sent[2])]));
      await new Promise((resolve) => setTimeout(resolve, 10));
      const last = envelope(sent[3]);
      push(last.subarray(0, 2));
      await new Promise((resolve) => setTimeout(resolve, 10));
      push(last.subarray(2, 7));
      await new Promise((resolve) => setTimeout(resolve, 10));
      push(last.subarray(7));
      await new Promise((resolve) => setTimeout(resolve, 10));
    });
    // The open frame (rewritten by the relay), the four frames as they were, the relay's close.
    assert.equal(decodeSessionInput(toAgent[0]).msg.case, "open");
    assert.deepEqual(toAgent.slice(1, 5).map((b) => [...b]), sent.map((b) => [...b]));
    assert.equal(decodeSessionInput(toAgent[5]).msg.case, "close");
    assert.equal(toAgent.length, 6);
  });

  it("re-encodes what it changes or merges, and keeps the client's pings to itself", async () => {
    const credit = encodeSessionInput({ msg: { case: "credit", value: 1000 } });
    const ping = encodeSessionInput({ msg: { case: "keepalive", value: { sentMs: 5n } } });
    const resize = encodeSessionInput({ msg: { case: "resize", value: { rows: 30, cols: 90 } } });
    // Two fields: protobuf keeps the last of a oneof; the agent gets that alone.
    const twice = new Uint8Array([...paddedData(0x61), ...paddedData(0x62)]);
    const toAgent = await splice(async (push, agentSays) => {
      // No output delivered yet: no credit passes; the ping is answered by the relay.
      for (const frame of [credit, ping, resize]) push(envelope(frame));
      agentSays(encodeDialFrame({
        output: { msg: { case: "output", value: { data: new Uint8Array(10) } } },
      }));
      await new Promise((resolve) => setTimeout(resolve, 20));
      // 10 bytes delivered: of the 1000 credited, 10 pass.
      for (const frame of [credit, twice]) push(envelope(frame));
      await new Promise((resolve) => setTimeout(resolve, 20));
    });
    const middle = toAgent.slice(1, -1);
    assert.deepEqual(middle.map((b) => [...b]), [
      [...resize],
      [...encodeSessionInput({ msg: { case: "credit", value: 10 } })],
      [...encodeSessionInput({ msg: { case: "data", value: new Uint8Array([0x62]) } })],
    ]);
  });

  it("refuses a client's frame past the message limit", async () => {
    const body = pushedBody();
    const response = serveBidi(
      new Request("http://relay/s", { method: "POST", body: body.body }),
      new Headers(),
      1024,
      async function* (inputs) {
        for (let next = await inputs.next(); !next.done; next = await inputs.next()) {
          yield next.value;
        }
      },
    );
    const head = new Uint8Array(5);
    new DataView(head.buffer).setUint32(1, 1025);
    body.push(head);
    const text = new TextDecoder().decode(new Uint8Array(await response.arrayBuffer()));
    assert.match(text, /resource_exhausted/);
    assert.match(text, /message size 1025 is larger than configured readMaxBytes 1024/);
  });
});
