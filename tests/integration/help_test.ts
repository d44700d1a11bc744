/** Help text reaches a pipe whole: the process must not exit before its last write. */
import { describe, it } from "../_test.ts";
import assert from "node:assert/strict";
import { MAIN } from "../_harness.ts";

describe("cmdop --help", () => {
  it("writes the whole help of connect to a pipe before exiting", async () => {
    // Through a shell pipe, as `cmdop connect --help | less` would be.
    const command = `"${Deno.execPath()}" run -A --quiet "${MAIN}" connect --help | cat`;
    const output = await new Deno.Command("sh", {
      args: ["-c", command],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(output.stdout);
    assert.equal(output.code, 0);
    assert.match(text, /^Usage: cmdop connect/);
    assert.match(text, /a hostname is\s+required\.\n+$/);
  });
});
