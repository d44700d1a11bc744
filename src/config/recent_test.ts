/** Tests of recording recent machine use and ordering a picker by it. */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { RECENT_LIMIT, recentOrder, sortByRecentUse, touchRecent } from "./recent.ts";
import { makeTempHome, modeOf, readRawJson } from "./_test_helpers.ts";

const clock = (ms: number) => () => ms;

describe("touchRecent() and recentOrder()", () => {
  it("order machines of one workspace by most recent use", async () => {
    const home = await makeTempHome();
    await touchRecent(home, "prod", "a", clock(1));
    await touchRecent(home, "prod", "b", clock(2));
    await touchRecent(home, "staging", "c", clock(3));
    await touchRecent(home, "prod", "a", clock(4));
    assert.deepEqual(await recentOrder(home, "prod"), ["a", "b"]);
    assert.deepEqual(await recentOrder(home, "staging"), ["c"]);
    assert.deepEqual(await recentOrder(home, "qa"), []);
    assert.equal(await modeOf(join(home, "recent.json")), 0o600);
  });

  it(`keep at most ${RECENT_LIMIT} entries, dropping the oldest`, async () => {
    const home = await makeTempHome();
    for (let i = 0; i < RECENT_LIMIT + 5; i++) {
      await touchRecent(home, i % 2 ? "prod" : "staging", `m${i}`, clock(i));
    }
    const raw = await readRawJson(join(home, "recent.json")) as {
      entries: unknown[];
    };
    assert.equal(raw.entries.length, RECENT_LIMIT);
    const all = [
      ...await recentOrder(home, "prod"),
      ...await recentOrder(home, "staging"),
    ];
    assert.ok(!all.includes("m4"));
    assert.ok(all.includes("m5"));
  });
});

describe("sortByRecentUse()", () => {
  it("puts recently used items first and keeps the rest in their order", () => {
    const machines = [{ id: "x" }, { id: "b" }, { id: "y" }, { id: "a" }];
    const sorted = sortByRecentUse(machines, ["a", "gone", "b"], (m) => m.id);
    assert.deepEqual(sorted.map((m) => m.id), ["a", "b", "x", "y"]);
    assert.deepEqual(machines.map((m) => m.id), ["x", "b", "y", "a"]);
  });
});
