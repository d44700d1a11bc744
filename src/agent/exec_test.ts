/** Tests for runExecSession with a resume grace: real commands kept through a lost stream and resumed. */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  type OpenSessionSchema,
  OutputStream,
  SessionKind,
} from "../../gen/cmdop/v1/session_pb.ts";
import { runExecSession } from "./exec.ts";
import { HeldSessions } from "./held_sessions.ts";
import { alive, FakeSession } from "./_fake_session.ts";

const encoder = new TextEncoder();
const PATH = Deno.env.get("PATH") ?? "/usr/bin:/bin";
const owner = "api_key:0123456789ab";

const sessions: FakeSession[] = [];
function exec(open: MessageInitShape<typeof OpenSessionSchema>, held: HeldSessions): FakeSession {
  const s = new FakeSession(
    { kind: SessionKind.EXEC, owner, ...open },
    (channel) => runExecSession(channel, { env: { PATH }, cwd: "/", held }),
  );
  sessions.push(s);
  return s;
}

/** Ends a session's stream the way a lost connection does: no close frame. */
async function drop(s: FakeSession): Promise<void> {
  s.inputs.close();
  await s.done;
}

/** The bytes of `stream` in a session's output frames. */
function streamText(s: FakeSession, stream: OutputStream): string {
  const decoder = new TextDecoder();
  return s.outputs.map((o) =>
    o.msg.case === "output" && o.msg.value.stream === stream ? decoder.decode(o.msg.value.data) : ""
  ).join("");
}

describe("a command kept for its client to resume", () => {
  after(() => {
    for (const s of sessions) s.inputs.close();
  });

  it("runs on without a stream and gives a resumed one its missed output, streams apart, and its exit", async () => {
    const held = new HeldSessions(60_000);
    const s = exec({
      argv: ["/bin/sh", "-c", "echo PID=$$; read go; echo out-$go; echo err-$go >&2; exit 7"],
      resumeGraceMs: 60_000,
    }, held);
    const pid = Number((await s.waitFor(/PID=(\d+)/))[1]);
    const token = s.ready!.resumeToken;
    assert.match(token, /^cmu_/);
    assert.equal(s.ready!.resumeGraceMs, 60_000);
    const seen = s.outputBytes;
    await drop(s);
    assert.ok(alive(pid), "the command lives on without a stream");
    assert.equal(held.detached, 1);

    const again = exec({ argv: ["x"], resume: { token, outputOffset: BigInt(seen) } }, held);
    await again.until("ready", () => again.ready);
    assert.equal(again.ready!.inputOffset, 0n);
    again.send({ case: "data", value: encoder.encode("now\n") });
    again.send({ case: "data", value: new Uint8Array() });
    assert.equal((await again.until("the exit frame", () => again.exit)).code, 7);
    assert.equal(streamText(again, OutputStream.STDOUT), "out-now\n");
    assert.equal(streamText(again, OutputStream.STDERR), "err-now\n");
    assert.equal(held.size, 1, "kept until the client says it has the exit");
    again.send({ case: "close", value: {} });
    await again.done;
    assert.equal(held.size, 0);
  });

  it("counts the input it got, so a resumed client sends the rest once", async () => {
    const held = new HeldSessions(60_000);
    const s = exec({ argv: ["/bin/sh", "-c", "cat; echo END"], resumeGraceMs: 60_000 }, held);
    await s.until("ready", () => s.ready);
    const token = s.ready!.resumeToken;
    s.send({ case: "data", value: encoder.encode("one\n") });
    await s.waitFor(/one\n/);
    await drop(s);
    const again = exec({ argv: ["x"], resume: { token, outputOffset: 4n } }, held);
    await again.until("ready", () => again.ready);
    assert.equal(again.ready!.inputOffset, 4n);
    again.send({ case: "data", value: encoder.encode("two\n") });
    again.send({ case: "data", value: new Uint8Array() });
    await again.until("the exit frame", () => again.exit);
    assert.equal(again.text, "two\nEND\n");
    again.send({ case: "close", value: {} });
    await again.done;
  });

  it("reports a timeout that struck while no stream was attached", async () => {
    const held = new HeldSessions(60_000);
    const s = exec({ argv: ["sleep", "30"], resumeGraceMs: 60_000, timeoutMs: 300 }, held);
    await s.until("ready", () => s.ready);
    const token = s.ready!.resumeToken;
    await drop(s);
    await new Promise((resolve) => setTimeout(resolve, 600));
    const again = exec({ argv: ["x"], resume: { token, outputOffset: 0n } }, held);
    const exit = await again.until("the exit frame", () => again.exit);
    assert.equal(exit.timedOut, true);
    again.send({ case: "close", value: {} });
    await again.done;
  });

  it("is resumed only as a command, by its owner", async () => {
    const held = new HeldSessions(60_000);
    const s = exec({ argv: ["sleep", "30"], resumeGraceMs: 60_000 }, held);
    await s.until("ready", () => s.ready);
    const token = s.ready!.resumeToken;
    await drop(s);
    assert.equal(await held.find(token, owner, SessionKind.PTY), undefined);
    assert.equal(await held.find(token, "share:other", SessionKind.EXEC), undefined);
    const again = exec({ argv: ["x"], resume: { token, outputOffset: 0n } }, held);
    await again.until("ready", () => again.ready);
    again.send({ case: "close", value: {} });
    const exit = await again.until("the exit frame", () => again.exit);
    assert.equal(exit.signal, "SIGTERM", "a close frame hangs the command up");
    await again.done;
    assert.equal(held.size, 0);
  });

  it("ends with its stream when no grace was asked for", async () => {
    const held = new HeldSessions(60_000);
    const s = exec({ argv: ["/bin/sh", "-c", "echo PID=$$; sleep 30"] }, held);
    const pid = Number((await s.waitFor(/PID=(\d+)/))[1]);
    assert.equal(s.ready!.resumeToken, "");
    await drop(s);
    await s.until("the command to be hung up", () => !alive(pid), 5_000);
    assert.equal(held.size, 0);
  });
});
