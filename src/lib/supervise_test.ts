/** Tests of supervise(): a failing task is caught where it starts, logged by name, and cleaned up after. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { describeError, supervise } from "./supervise.ts";

describe("supervise()", () => {
  it("logs a rejection with the task's name, hangs up, cleans up and never rejects", async () => {
    const log: string[] = [];
    const steps: string[] = [];
    await supervise("session s1: client input", Promise.reject(new TypeError("gone")), {
      log: (m) => log.push(m),
      onError: (error) => steps.push(`hang up after ${describeError(error)}`),
      cleanup: () => steps.push("cleanup"),
    });
    assert.deepEqual(log, ["session s1: client input failed: TypeError: gone"]);
    assert.deepEqual(steps, ["hang up after TypeError: gone", "cleanup"]);
  });

  it("catches a task that throws before it returns a promise", async () => {
    const log: string[] = [];
    await supervise("task", () => {
      throw new Error("at once");
    }, { log: (m) => log.push(m) });
    assert.deepEqual(log, ["task failed: at once"]);
  });

  it("runs only the cleanup when the task succeeds, and keeps expected failures quiet", async () => {
    const steps: string[] = [];
    await supervise("ok", Promise.resolve(1), {
      log: (m) => steps.push(m),
      onError: () => steps.push("onError"),
      cleanup: () => steps.push("cleanup"),
    });
    await supervise("peer", Promise.reject(new Error("reset")), {
      log: (m) => steps.push(m),
      quiet: () => true,
    });
    assert.deepEqual(steps, ["cleanup"]);
  });

  it("logs a failing cleanup instead of letting it escape", async () => {
    const log: string[] = [];
    await supervise("task", Promise.resolve(), {
      log: (m) => log.push(m),
      cleanup: () => Promise.reject(new Error("cleanup broke")),
    });
    assert.deepEqual(log, ["task: cleanup failed: cleanup broke"]);
  });
});
