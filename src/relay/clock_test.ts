/** Tests for relayClock: the real clock unless a test names an offset file, read on every call. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { relayClock } from "./clock.ts";

describe("relayClock()", () => {
  it("is the real clock when no file is set", () => {
    const real = () => 1_000;
    assert.equal(relayClock(real, undefined), real);
  });

  it("adds the file's offset, read again on each call, keeping the last one when unreadable", async () => {
    const file = join(await Deno.makeTempDir(), "offset");
    await Deno.writeTextFile(file, "500");
    const now = relayClock(() => 1_000, file);
    assert.equal(now(), 1_500);
    await Deno.writeTextFile(file, "7200000");
    assert.equal(now(), 7_201_000);
    await Deno.writeTextFile(file, "");
    assert.equal(now(), 7_201_000);
    await Deno.remove(file);
    assert.equal(now(), 7_201_000);
  });

  it("stands still at the time after an @, whatever the real clock does", async () => {
    const file = join(await Deno.makeTempDir(), "offset");
    let real = 1_000;
    const now = relayClock(() => real, file);
    await Deno.writeTextFile(file, "@5000");
    assert.equal(now(), 5_000);
    real = 9_000;
    assert.equal(now(), 5_000);
    await Deno.writeTextFile(file, "@");
    assert.equal(now(), 5_000, "a half-written file keeps the last reading");
    await Deno.writeTextFile(file, "100");
    assert.equal(now(), 9_100, "an offset lets time flow again");
  });
});
