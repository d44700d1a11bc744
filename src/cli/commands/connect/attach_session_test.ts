/** Tests for runTerminalSession in memory: keys in, output out, Ctrl-D, resizes, exit and a lost connection. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { type SessionOutput, SessionOutputSchema } from "../../../../gen/cmdop/v1/session_pb.ts";
import { AsyncQueue } from "../../../lib/async_queue.ts";
import type { CliContext } from "../../context.ts";
import { CliError } from "../../errors.ts";
import type { OpenedSession } from "../../session_client.ts";
import { TerminalInput } from "../../ui/terminal_input.ts";
import { runTerminalSession, splitAtDisconnect } from "./attach_session.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A session whose frames the test pushes and whose calls it records. */
function fakeSession() {
  const frames = new AsyncQueue<SessionOutput>();
  const calls = {
    written: "",
    resized: [] as string[],
    consumed: 0,
    closed: false,
    aborted: false,
  };
  const session: OpenedSession = {
    ready: {
      $typeName: "cmdop.v1.Ready",
      sessionId: "s",
      windowBytes: 1024,
      readOnly: false,
      recorded: false,
      resumeToken: "",
      resumeGraceMs: 0,
      inputOffset: 0n,
    },
    frames: frames[Symbol.asyncIterator](),
    write: (data) => {
      calls.written += decoder.decode(data);
      return Promise.resolve();
    },
    endInput: () => {},
    resize: (rows, cols) => void calls.resized.push(`${rows}x${cols}`),
    consumed: (bytes) => void (calls.consumed += bytes),
    close: () => {
      calls.closed = true;
      frames.push(frame({ case: "exit", value: { code: 129, signal: "SIGHUP" } }));
    },
    abort: () => void (calls.aborted = true),
  };
  return { session, frames, calls };
}

function frame(msg: MessageInitShape<typeof SessionOutputSchema>["msg"]): SessionOutput {
  return create(SessionOutputSchema, { msg });
}

/** A context with a keyboard to type on, a screen to read and a window to resize. */
function fakeTerminal(isTerminal = true) {
  let keys!: ReadableStreamDefaultController<Uint8Array>;
  const readable = new ReadableStream<Uint8Array>({ start: (c) => void (keys = c) });
  let screen = "";
  let resizeListener: (() => void) | undefined;
  let size = { rows: 24, cols: 80 };
  const abort = new AbortController();
  const out = {
    write: (data: Uint8Array | string) => {
      screen += typeof data === "string" ? data : decoder.decode(data);
      return Promise.resolve();
    },
    isTerminal: () => isTerminal,
    size: () => size,
  };
  const ctx: CliContext = {
    stdin: { readable, isTerminal: () => true, setRaw: () => {} },
    stdout: out,
    stderr: out,
    env: () => undefined,
    home: () => {
      throw new Error("this test has no config folder");
    },
    now: () => 0,
    signal: abort.signal,
    onTerminalResize: (listener) => {
      resizeListener = listener;
      return () => resizeListener = undefined;
    },
  };
  return {
    ctx,
    input: new TerminalInput(readable),
    type: (text: string) => keys.enqueue(encoder.encode(text)),
    screen: () => screen,
    resize(rows: number, cols: number) {
      size = { rows, cols };
      resizeListener?.();
    },
    listening: () => resizeListener !== undefined,
    abort: () => abort.abort(),
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 10));

describe("splitAtDisconnect()", () => {
  it("sends what comes before Ctrl-D and drops the key and the rest", () => {
    const { send, disconnect } = splitAtDisconnect(encoder.encode("ls\x04rm -rf\r"));
    assert.equal(decoder.decode(send), "ls");
    assert.equal(disconnect, true);
  });

  it("sends everything else, Ctrl-C included", () => {
    const chunk = encoder.encode("sleep 1\r\x03");
    assert.deepEqual(splitAtDisconnect(chunk), { send: chunk, disconnect: false });
  });
});

describe("runTerminalSession()", () => {
  it("forwards keys, writes output with credit and ends with the remote exit", async () => {
    const { session, frames, calls } = fakeSession();
    const term = fakeTerminal();
    const ended = runTerminalSession(term.ctx, session, term.input, "web-1");
    term.type("echo hi\r\x03");
    await settle();
    frames.push(frame({ case: "output", value: { data: encoder.encode("hi\r\n") } }));
    frames.push(frame({ case: "exit", value: { code: 7 } }));
    assert.deepEqual(await ended, { kind: "exit", code: 7, signal: "", error: "" });
    assert.equal(calls.written, "echo hi\r\x03");
    assert.equal(term.screen(), "hi\r\n");
    assert.equal(calls.consumed, 4);
    assert.equal(calls.closed, false);
    assert.equal(term.listening(), false, "resizes are no longer followed");
  });

  it("disconnects on Ctrl-D without sending it, and hangs the remote shell up", async () => {
    const { session, calls } = fakeSession();
    const term = fakeTerminal();
    const ended = runTerminalSession(term.ctx, session, term.input, "web-1");
    term.type("pwd\x04exit\r");
    assert.deepEqual(await ended, { kind: "disconnected" });
    assert.equal(calls.written, "pwd");
    assert.equal(calls.closed, true);
    assert.equal(calls.aborted, true);
  });

  it("sends the window's new size on each resize", async () => {
    const { session, frames, calls } = fakeSession();
    const term = fakeTerminal();
    const ended = runTerminalSession(term.ctx, session, term.input, "web-1");
    await settle();
    term.resize(50, 132);
    term.resize(30, 100);
    frames.push(frame({ case: "exit", value: { code: 0 } }));
    await ended;
    assert.deepEqual(calls.resized, ["50x132", "30x100"]);
  });

  it("turns bare line feeds into vertical tabs on a terminal only", async () => {
    for (const [isTerminal, expected] of [[true, "a\vb\r\n"], [false, "a\nb\r\n"]] as const) {
      const { session, frames } = fakeSession();
      const term = fakeTerminal(isTerminal);
      const ended = runTerminalSession(term.ctx, session, term.input, "web-1");
      frames.push(frame({ case: "output", value: { data: encoder.encode("a\nb\r\n") } }));
      frames.push(frame({ case: "exit", value: { code: 0 } }));
      await ended;
      assert.equal(term.screen(), expected);
    }
  });

  it("reports a stream that ends without an exit frame as a lost connection", async () => {
    const { session, frames } = fakeSession();
    const term = fakeTerminal();
    const ended = runTerminalSession(term.ctx, session, term.input, "web-1");
    frames.fail(new Error("stream reset"));
    await assert.rejects(ended, (error: unknown) => {
      assert.ok(error instanceof CliError);
      assert.match(error.message, /lost the connection to "web-1": stream reset/);
      return true;
    });
  });

  it("hangs up when the command is interrupted (SIGTERM)", async () => {
    const { session, calls } = fakeSession();
    const term = fakeTerminal();
    const ended = runTerminalSession(term.ctx, session, term.input, "web-1");
    term.abort();
    assert.deepEqual(await ended, { kind: "interrupted" });
    assert.equal(calls.closed, true);
  });
});
