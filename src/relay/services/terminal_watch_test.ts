/** TerminalWatch's bounds: who sees which terminal, what a joiner is shown, and what a viewer that stops reading may cost. */
import { describe, it } from "../../../tests/_suite.ts";
import assert from "node:assert/strict";
import type { SessionOutput } from "../../../gen/cmdop/v1/session_pb.ts";
import {
  MAX_VIEWERS_PER_TERMINAL,
  REPLAY_BYTES,
  TerminalWatch,
  VIEWER_BACKLOG_BYTES,
} from "./terminal_watch.ts";

const key = { workspaceId: "w1", machineId: "m1", owner: "api_key:3f9a0c21b7de" };
const bytes = (n: number, fill = 0x61) => new Uint8Array(n).fill(fill);

async function take(frames: AsyncIterator<SessionOutput>, n: number): Promise<SessionOutput[]> {
  const out: SessionOutput[] = [];
  while (out.length < n) {
    const next = await frames.next();
    if (next.done) break;
    out.push(next.value);
  }
  return out;
}

describe("TerminalWatch", () => {
  it("joins the newest terminal of that owner on that machine, and no one else's", () => {
    const watch = new TerminalWatch();
    assert.equal(watch.join(key), undefined);
    const older = watch.publish(key, { rows: 24, cols: 80 });
    const newer = watch.publish(key, { rows: 24, cols: 80 });
    watch.publish({ ...key, owner: "user:someone-else" }, { rows: 24, cols: 80 });
    watch.publish({ ...key, workspaceId: "w2" }, { rows: 24, cols: 80 });
    assert.ok(watch.join(key));
    assert.equal(newer.viewers, 1);
    assert.equal(older.viewers, 0);
    newer.end();
    assert.ok(watch.join(key));
    assert.equal(older.viewers, 1);
    older.end();
    assert.equal(watch.join(key), undefined);
    assert.equal(watch.join({ ...key, owner: "api_key:000000000000" }), undefined);
  });

  it("shows a joiner the size and the last output first, then what comes, then the exit", async () => {
    const watch = new TerminalWatch();
    const terminal = watch.publish(key, { rows: 30, cols: 100 });
    terminal.output(bytes(REPLAY_BYTES, 0x78));
    terminal.output(new TextEncoder().encode("prompt$ "));
    const viewer = watch.join(key)!;
    terminal.output(new TextEncoder().encode("ls\r\n"));
    terminal.resize(40, 120);
    terminal.end({ $typeName: "cmdop.v1.Exit", code: 3, signal: "", timedOut: false, error: "" });
    const frames = await take(viewer.frames, 10);
    assert.deepEqual(frames.map((f) => f.msg.case), [
      "resize",
      "output",
      "output",
      "resize",
      "exit",
    ]);
    const replay = frames[1].msg.value as { data: Uint8Array };
    assert.ok(replay.data.length <= REPLAY_BYTES + 8, `${replay.data.length} bytes replayed`);
    assert.ok(new TextDecoder().decode(replay.data).endsWith("xprompt$ "));
    assert.deepEqual(frames[3].msg.value, { $typeName: "cmdop.v1.Resize", rows: 40, cols: 120 });
    assert.equal((frames[4].msg.value as { code: number }).code, 3);
  });

  it("ends a viewer that falls more than its backlog behind, never holding the terminal back", async () => {
    const watch = new TerminalWatch();
    const terminal = watch.publish(key, { rows: 24, cols: 80 });
    const slow = watch.join(key)!;
    const chunk = bytes(64 * 1024);
    // The terminal writes 4 MiB while the viewer reads nothing: output() never waits.
    for (let i = 0; i < 64; i++) terminal.output(chunk);
    assert.equal(terminal.viewers, 0, "the slow viewer was let go");
    let received = 0;
    await assert.rejects(
      (async () => {
        for await (const frame of slow.frames) {
          if (frame.msg.case === "output") received += frame.msg.value.data.length;
        }
      })(),
      /fell 1024 KiB behind the terminal it watches/,
    );
    assert.ok(received <= VIEWER_BACKLOG_BYTES, `${received} bytes were held for it`);
  });

  it("takes at most its number of viewers", () => {
    const watch = new TerminalWatch();
    watch.publish(key, { rows: 24, cols: 80 });
    for (let i = 0; i < MAX_VIEWERS_PER_TERMINAL; i++) assert.ok(watch.join(key));
    assert.throws(() => watch.join(key), /already has 16 viewers/);
  });

  it("tells its viewers when the terminal is lost without an exit", async () => {
    const watch = new TerminalWatch();
    const terminal = watch.publish(key, { rows: 24, cols: 80 });
    const viewer = watch.join(key)!;
    terminal.end();
    await assert.rejects(take(viewer.frames, 5), /the terminal being watched was disconnected/);
  });
});
