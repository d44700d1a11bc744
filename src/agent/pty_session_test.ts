/** Tests for runPtySession: real shells on real pseudo-terminals, driven through an in-memory session channel. */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  type OpenSessionSchema,
  OpenSessionSchema as OpenSchema,
  type SessionInput,
  SessionKind,
  type SessionOutput,
} from "../../gen/cmdop/v1/session_pb.ts";
import { AsyncQueue } from "../lib/async_queue.ts";
import { runPtySession } from "./pty_session.ts";
import { HeldSessions } from "./held_sessions.ts";
import { alive, FakeSession } from "./_fake_session.ts";

const encoder = new TextEncoder();
const PATH = Deno.env.get("PATH") ?? "/usr/bin:/bin";

const sessions: FakeSession[] = [];
function session(
  open: MessageInitShape<typeof OpenSessionSchema>,
  env?: Record<string, string>,
  held?: HeldSessions,
): FakeSession {
  const s = new FakeSession(
    open,
    (channel) => runPtySession(channel, { env: { PATH, PS1: "$ ", ...env }, cwd: "/", held }),
  );
  sessions.push(s);
  return s;
}

describe("runPtySession()", {
  skip: Deno.build.os !== "linux" && "pty sessions are tested on Linux",
}, () => {
  after(async () => {
    for (const s of sessions) s.send({ case: "close", value: {} });
    await Promise.all(sessions.map((s) => s.done));
  });

  it("answers ready, then runs the program on a pty of the client's size and TERM", async () => {
    const s = session({
      argv: ["/bin/sh", "-c", "tty; echo TERM=$TERM; stty size"],
      term: "vt220",
      rows: 33,
      cols: 101,
    });
    const exit = await s.exited();
    assert.equal(s.outputs[0].msg.case, "ready");
    assert.match(s.text, /\/dev\/pts\/\d+/);
    assert.match(s.text, /TERM=vt220/);
    assert.match(s.text, /33 101/);
    assert.deepEqual([exit.code, exit.signal, exit.error], [0, "", ""]);
  });

  it("reports the program's exit status in the last frame", async () => {
    const exit = await session({ argv: ["/bin/sh", "-c", "exit 7"] }).exited();
    assert.equal(exit.code, 7);
  });

  it("starts the login shell when no argv is given", async () => {
    const s = session({}, { SHELL: "/bin/sh" });
    s.type(`echo SH""ELL0=$0; exit 3`);
    assert.match((await s.waitFor(/SHELL0=(\S+)/))[1], /^-?\/bin\/sh$|^-?sh$/);
    assert.equal((await s.exited()).code, 3);
  });

  it("applies resize frames to the running terminal", async () => {
    const s = session({ argv: ["/bin/sh", "-i"], rows: 10, cols: 40 });
    s.send({ case: "resize", value: { rows: 50, cols: 132 } });
    s.type("stty size");
    await s.waitFor(/50 132/);
    s.type("exit");
    assert.equal((await s.exited()).code, 0);
  });

  it("credits input back in batches once it is written to the terminal", async () => {
    const s = session({
      argv: [
        "/bin/sh",
        "-c",
        "stty raw -echo; echo REA''DY; head -c 100 >/dev/null; echo GO''T; cat >/dev/null",
      ],
    });
    await s.waitFor(/READY/);
    s.send({ case: "data", value: encoder.encode("x".repeat(100)) });
    // Judged once the 100 bytes were written to the terminal and read there, not after a sleep.
    await s.waitFor(/GOT/);
    assert.equal(s.inputCredit, 0, "a keystroke's worth is not credited on its own");
    for (let i = 0; i < 10; i++) s.send({ case: "data", value: new Uint8Array(60_000).fill(0x61) });
    await s.until("input credited", () => s.inputCredit === 600_100);
    s.send({ case: "close", value: {} });
    await s.exited();
  });

  it("sends no more output than the client's credit allows, and resumes on credit", async () => {
    const total = 300_000;
    const s = session({
      argv: ["/bin/sh", "-c", `head -c ${total} /dev/zero | tr '\\0' x`],
      windowBytes: 1000,
    });
    await s.until("the first output", () => s.outputBytes > 0);
    // An absence can only be watched for a while: every 20 ms for 1 s, the bound must hold.
    // One chunk may overshoot the window (chunks stay whole); a 64 KiB read is the most.
    for (let i = 0; i < 50; i++) {
      assert.ok(
        s.outputBytes <= 1000 + 64 * 1024,
        `got ${s.outputBytes} bytes on a 1000-byte window`,
      );
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(s.exit, undefined, "no exit while output is held back");
    const granting = setInterval(
      () => s.send({ case: "credit", value: 64 * 1024 }),
      5,
    );
    const exit = await s.exited().finally(() => clearInterval(granting));
    assert.equal(exit.code, 0);
    assert.equal(s.text.replace(/[^x]/g, "").length, total);
  });

  it("hangs the shell and its jobs up on a close frame and leaves no process behind", async () => {
    const s = session({ argv: ["/bin/sh", "-i"] });
    s.type("sleep 100 & echo JOB=$!; echo SHELL=$$");
    const [, job, shell] = await s.waitFor(/JOB=(\d+)\s+SHELL=(\d+)/);
    assert.ok(alive(Number(job)) && alive(Number(shell)));
    s.send({ case: "close", value: {} });
    const exit = await s.exited();
    assert.equal(exit.signal, "SIGHUP");
    assert.equal(exit.code, 129);
    await s.until("the job to be gone", () => !alive(Number(job)));
    assert.ok(!alive(Number(shell)));
  });

  it("hangs up when the relay ends the stream without a word", async () => {
    const s = session({ argv: ["/bin/sh", "-i"] });
    s.type("echo PID=$$");
    const [, pid] = await s.waitFor(/PID=(\d+)/);
    s.inputs.close();
    await s.done;
    await s.until("the shell to be gone", () => !alive(Number(pid)));
  });

  it("reports a terminal that cannot start as an exit frame with the reason", async () => {
    const outputs: SessionOutput[] = [];
    await runPtySession({
      open: create(OpenSchema, { kind: SessionKind.PTY, rows: 24, cols: 80 }),
      inputs: new AsyncQueue<SessionInput>(),
      send: (output) => outputs.push(output) > 0,
    }, {
      env: {},
      openPty: () => {
        throw new Error(`Cannot start "/bin/nosuch"`);
      },
    });
    assert.equal(outputs.length, 1);
    const msg = outputs[0].msg;
    assert.equal(msg.case, "exit");
    if (msg.case !== "exit") return;
    assert.equal(msg.value.code, 127);
    assert.match(
      msg.value.error,
      /cannot start a terminal: Cannot start "\/bin\/nosuch"/,
    );
  });

  describe("a resumable terminal", () => {
    const owner = "api_key:0123456789ab";
    /** Opens `sh -i` kept for `graceMs` once its stream is lost; resolves with it and its token. */
    async function kept(held: HeldSessions, graceMs = 60_000) {
      const s = session({ argv: ["/bin/sh", "-i"], resumeGraceMs: graceMs, owner }, {}, held);
      const ready = await s.until("ready", () => {
        const first = s.outputs[0]?.msg;
        return first?.case === "ready" ? first.value : undefined;
      });
      s.type("echo PID=$$");
      const pid = Number((await s.waitFor(/PID=(\d+)/))[1]);
      return { s, token: ready.resumeToken, grace: ready.resumeGraceMs, pid };
    }
    /** Ends a session's stream the way a lost connection does: no close frame. */
    async function drop(s: FakeSession): Promise<void> {
      s.inputs.close();
      await s.done;
    }
    const readyOf = (s: FakeSession) => {
      const first = s.outputs[0]?.msg;
      return first?.case === "ready" ? first.value : undefined;
    };

    it("outlives its stream, and a resume gets the output it missed from its offset, and the input count", async () => {
      const held = new HeldSessions(60_000);
      const { s, token, grace, pid } = await kept(held);
      assert.match(token, /^cmu_/);
      assert.equal(grace, 60_000);
      s.type("echo before-$((1+1))");
      await s.waitFor(/before-2/);
      const typed = "echo PID=$$\r".length + "echo before-$((1+1))\r".length;
      // The client saw all but its last 5 bytes when the connection went.
      const seen = s.outputBytes - 5;
      const tail = s.text.slice(-5);
      await drop(s);
      assert.ok(alive(pid), "the shell lives on without a stream");
      assert.equal(held.detached, 1);

      const again = session(
        {
          kind: SessionKind.PTY,
          owner,
          resume: { token, outputOffset: BigInt(seen) },
        },
        {},
        held,
      );
      await again.waitFor(/\$ $/);
      assert.equal(readyOf(again)?.inputOffset, BigInt(typed));
      assert.ok(
        again.text.startsWith(tail),
        `replayed from byte ${seen}: ${JSON.stringify(again.text)}`,
      );
      assert.equal(held.detached, 0);
      again.type("echo after-$((2+2)); exit 4");
      await again.waitFor(/after-4/);
      assert.equal((await again.until("the exit frame", () => again.exit)).code, 4);
      assert.equal(held.size, 1, "kept until the client says it has the exit");
      again.send({ case: "close", value: {} });
      assert.equal((await again.exited()).code, 4);
      assert.equal(held.size, 0, "an ended terminal cannot be resumed");
    });

    it("sends its exit again to a stream resumed after the one that carried it was lost", async () => {
      const held = new HeldSessions(60_000);
      const { s, token } = await kept(held);
      s.type("echo bye; exit 3");
      assert.equal((await s.until("the exit frame", () => s.exit)).code, 3);
      const seen = s.outputBytes;
      await drop(s);
      assert.equal(held.size, 1, "the exit may not have reached the client: kept");
      const again = session(
        { kind: SessionKind.PTY, owner, resume: { token, outputOffset: BigInt(seen - 4) } },
        {},
        held,
      );
      assert.equal((await again.until("the exit frame", () => again.exit)).code, 3);
      assert.equal(again.outputBytes, 4, "the 4 bytes not seen, then the exit");
      again.send({ case: "close", value: {} });
      await again.done;
      assert.equal(held.size, 0);
    });

    it("is resumed by its owner alone, with its token alone", async () => {
      const held = new HeldSessions(60_000);
      const { s, token, pid } = await kept(held);
      await drop(s);
      for (const [who, tok] of [["share:other", token], [owner, token.slice(0, -1) + "x"]]) {
        const other = session(
          {
            kind: SessionKind.PTY,
            owner: who,
            resume: { token: tok, outputOffset: 0n },
          },
          {},
          held,
        );
        // A resume that was let in would attach and run on: wait for the refusal, within a bound.
        const exit = await other.until(`${who}'s refusal`, () => other.exit);
        assert.match(exit.error, /cannot be resumed/);
      }
      assert.ok(alive(pid), "a refused resume leaves the terminal kept");
      const offset = BigInt(s.outputBytes + 1);
      const beyond = session(
        { kind: SessionKind.PTY, owner, resume: { token, outputOffset: offset } },
        {},
        held,
      );
      assert.match((await beyond.exited()).error, /cannot resume from output byte/);
    });

    it("hangs up when its grace runs out, and the token is then refused", async () => {
      const held = new HeldSessions(300);
      const { s, token, grace, pid } = await kept(held, 60_000);
      assert.equal(grace, 300, "the agent's limit wins over the client's wish");
      await drop(s);
      await s.until("the kept shell to be hung up", () => !alive(pid), 10_000);
      const late = session(
        { kind: SessionKind.PTY, owner, resume: { token, outputOffset: 0n } },
        {},
        held,
      );
      assert.match((await late.exited()).error, /cannot be resumed/);
      assert.equal(held.size, 0);
    });

    it("stops reading a kept terminal once a window of output waits, and gives all of it on resume", async () => {
      const held = new HeldSessions(60_000);
      const window = 64 * 1024;
      const s = session(
        {
          argv: [
            "/bin/sh",
            "-c",
            "read go; head -c 300000 /dev/zero | tr '\\0' 'x'; echo; echo DONE",
          ],
          resumeGraceMs: 60_000,
          owner,
          windowBytes: window,
        },
        {},
        held,
      );
      await s.until("ready", () => readyOf(s));
      const token = readyOf(s)!.resumeToken;
      s.type("go");
      // No credit comes: a window of output is sent, then nothing.
      await s.until("a window of output", () => s.outputBytes >= window);
      const sent = s.outputBytes;
      await drop(s);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const again = session(
        {
          kind: SessionKind.PTY,
          owner,
          resume: { token, outputOffset: BigInt(sent) },
        },
        {},
        held,
      );
      // Credit as it comes: the rest arrives, every byte once.
      const crediting = setInterval(() => again.send({ case: "credit", value: window }), 20);
      try {
        await again.waitFor(/DONE/);
        await again.until("the exit frame", () => again.exit);
        again.send({ case: "close", value: {} });
        await again.exited();
      } finally {
        clearInterval(crediting);
      }
      const xs = (s.text + again.text).split("x").length - 1;
      assert.equal(xs, 300_000, "every byte of output once");
    });
  });
});
