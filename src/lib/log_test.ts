/** createLogger: text lines people read, JSON lines collectors parse. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createLogger } from "./log.ts";

const at = () => Date.UTC(2026, 11, 2, 1, 2, 3);

describe("createLogger()", () => {
  it("writes text as time, message and key=value, quoting values with spaces", () => {
    const lines: string[] = [];
    const log = createLogger("text", (line) => lines.push(line), at);
    log("machine m1 online");
    log("auth failure", { level: "warn", peer: "::1", reason: "API key is not valid", n: 2 });
    assert.deepEqual(lines, [
      "2026-12-02T01:02:03.000Z machine m1 online\n",
      '2026-12-02T01:02:03.000Z auth failure peer=::1 reason="API key is not valid" n=2\n',
    ]);
  });

  it("writes one JSON object per line with time, level and msg first", () => {
    const lines: string[] = [];
    const log = createLogger("json", (line) => lines.push(line), at);
    log('say "hi"\nthere', { method: "A/B", ms: 1.5 });
    log("refused", { level: "warn" });
    assert.equal(lines.length, 2);
    assert.ok(lines.every((l) => l.endsWith("}\n") && l.indexOf("\n") === l.length - 1));
    assert.deepEqual(JSON.parse(lines[0]), {
      time: "2026-12-02T01:02:03.000Z",
      level: "info",
      msg: 'say "hi"\nthere',
      method: "A/B",
      ms: 1.5,
    });
    assert.equal(JSON.parse(lines[1]).level, "warn");
  });
});
