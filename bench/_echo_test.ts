/** Tests of the keystroke echo measurement against an in-memory shell. */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { measureEcho } from "./_echo.ts";

/** A shell stand-in: echoes what is typed (unless `echo` is false) and answers `echo SY""NC_n` lines. */
function fakeShell(options: { echo: boolean }) {
  const output = new TransformStream<Uint8Array, Uint8Array>();
  const out = output.writable.getWriter();
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let line = "";
  const typed: string[] = [];
  return {
    typed,
    output: output.readable,
    async write(bytes: Uint8Array) {
      for (const ch of decoder.decode(bytes)) {
        typed.push(ch);
        if (options.echo) {
          await out.write(encoder.encode(ch === "\n" ? "\r\n" : ch));
        }
        if (ch !== "\n") {
          line += ch;
          continue;
        }
        const sync = /^echo SY""NC_(\d+)$/.exec(line);
        line = "";
        await out.write(encoder.encode(sync ? `SYNC_${sync[1]}\r\n$ ` : "$ "));
      }
    },
  };
}

describe("measureEcho()", () => {
  it("takes one sample per keystroke, in lines that start with # and end with Enter", async () => {
    const shell = fakeShell({ echo: true });
    const samples = await measureEcho(shell, {
      keystrokes: 7,
      lineLength: 3,
      quietMs: 1,
    });
    assert.equal(samples.length, 7);
    assert.ok(samples.every((ms) => ms >= 0));
    const lines = shell.typed.join("").split("\n").filter((l) =>
      l !== "" && !l.startsWith("echo ")
    );
    assert.deepEqual(lines, ["#abc", "#def", "#g"]);
  });

  it("fails naming the keystroke whose echo never came", async () => {
    const shell = fakeShell({ echo: false });
    await assert.rejects(
      measureEcho(shell, { keystrokes: 3, quietMs: 1, timeoutMs: 200 }),
      /No echo of "#" within 200 ms/,
    );
  });
});
