/** Tests of ProcessTracker and reapLeftovers (Linux: /proc): what a killed agent left is ended, and nothing else. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ProcessTracker, reapLeftovers } from "./process_tracker.ts";

const linux = Deno.build.os === "linux";

/** `sh` leading a session of its own, with a `sleep` child. */
function startSession(): Deno.ChildProcess {
  return new Deno.Command("sh", {
    args: ["-c", "sleep 600 & wait"],
    detached: true,
    stdout: "null",
    stderr: "null",
  }).spawn();
}

function sessionMembers(sid: number): number[] {
  return [...Deno.readDirSync("/proc")].filter((e) => /^\d+$/.test(e.name)).filter((e) => {
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return Number(rest[3]) === sid && rest[0] !== "Z";
    } catch {
      return false;
    }
  }).map((e) => Number(e.name));
}

async function until(predicate: () => boolean): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("ProcessTracker", { skip: !linux }, () => {
  it("records running sessions so that the next agent ends them, children included", async () => {
    const stateDir = await Deno.makeTempDir();
    const child = startSession();
    await until(() => sessionMembers(child.pid).length === 2);
    new ProcessTracker({ stateDir }).track(child.pid); // the agent then dies without cleaning up
    assert.equal(await reapLeftovers(stateDir), 2);
    await child.status;
    await until(() => sessionMembers(child.pid).length === 0);
    assert.equal(await reapLeftovers(stateDir), 0, "the record is emptied");
  });

  it("forgets a session once untracked, and ends what it tracks on endAll", async () => {
    const stateDir = await Deno.makeTempDir();
    const tracker = new ProcessTracker({ stateDir });
    const done = startSession();
    const untrack = tracker.track(done.pid);
    const running = startSession();
    tracker.track(running.pid);
    await until(() => sessionMembers(running.pid).length === 2);
    untrack();
    await tracker.endAll(500);
    await running.status;
    await until(() => sessionMembers(running.pid).length === 0);
    assert.equal(sessionMembers(done.pid).length > 0, true, "an untracked session is left alone");
    Deno.kill(-done.pid, "SIGKILL");
    await done.status;
  });

  it("leaves alone a recorded session whose leader's pid now belongs to another process", async () => {
    const stateDir = await Deno.makeTempDir();
    const child = startSession();
    await until(() => sessionMembers(child.pid).length === 2);
    new ProcessTracker({ stateDir }).track(child.pid);
    // The same pid with another start time: the record is of a session that is over.
    const path = `${stateDir}/running_sessions.json`;
    const record = JSON.parse(await Deno.readTextFile(path));
    record.sessions[0].start -= 1;
    await Deno.writeTextFile(path, JSON.stringify(record));
    assert.equal(await reapLeftovers(stateDir), 0);
    assert.equal(sessionMembers(child.pid).length, 2);
    Deno.kill(-child.pid, "SIGKILL");
    await child.status;
  });

  it("kills nothing recorded during another boot", async () => {
    const stateDir = await Deno.makeTempDir();
    const child = startSession();
    await until(() => sessionMembers(child.pid).length === 2);
    new ProcessTracker({ stateDir }).track(child.pid);
    const path = `${stateDir}/running_sessions.json`;
    const record = JSON.parse(await Deno.readTextFile(path));
    record.boot_id = "another-boot";
    await Deno.writeTextFile(path, JSON.stringify(record));
    assert.equal(await reapLeftovers(stateDir), 0);
    assert.equal(sessionMembers(child.pid).length, 2);
    Deno.kill(-child.pid, "SIGKILL");
    await child.status;
  });
});
