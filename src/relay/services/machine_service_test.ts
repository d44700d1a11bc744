import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import { MEMORY_PEER, memoryRelay } from "../_memory_relay.ts";
import { hashPassword } from "../passwords.ts";

/** A rejection with this code whose message matches. */
const refused = (code: Code, message: RegExp) => (error: unknown) => {
  assert.ok(error instanceof ConnectError, `expected a ConnectError, got ${error}`);
  assert.equal(Code[error.code], Code[code], error.rawMessage);
  assert.match(error.rawMessage, message);
  return true;
};

describe("MachineService (in memory)", () => {
  it("lists a workspace's own machines, with its name, and no one else's", async () => {
    await using relay = await memoryRelay();
    const acme = await relay.workspace("acme");
    const other = await relay.workspace("other");
    await acme.machine("web-1", { labels: { env: "prod" } });
    await acme.machine("db-1");
    await other.machine("laptop");
    const listed = await acme.clients.machines.listMachines({});
    assert.deepEqual(listed.machines.map((m) => m.hostname).sort(), ["db-1", "web-1"]);
    assert.equal(listed.workspaceName, "acme");
    assert.deepEqual(listed.machines.find((m) => m.hostname === "web-1")?.labels, { env: "prod" });
    assert.ok(listed.machines.every((m) => !m.online), "no agent is connected");
    assert.deepEqual((await acme.clients.machines.listMachines({ onlineOnly: true })).machines, []);
    const theirs = await other.clients.machines.listMachines({});
    assert.deepEqual(theirs.machines.map((m) => m.hostname), ["laptop"]);
  });

  it("removes a machine for its workspace only, and its share links with it", async () => {
    await using relay = await memoryRelay();
    const acme = await relay.workspace("acme");
    const other = await relay.workspace("other");
    const web = await acme.machine("web-1");
    const link = await acme.clients.shares.createShare({ machineId: web.id, ttlHours: 1 });
    await assert.rejects(
      other.clients.machines.removeMachine({ machineId: web.id }),
      refused(Code.NotFound, new RegExp(`^machine "${web.id}" not found$`)),
    );
    await assert.rejects(
      relay.clientsFor(link.token).machines.removeMachine({ machineId: web.id }),
      refused(Code.PermissionDenied, /^a share link cannot remove machines$/),
    );
    await acme.clients.machines.removeMachine({ machineId: web.id });
    assert.deepEqual((await acme.clients.machines.listMachines({})).machines, []);
    await assert.rejects(
      relay.clientsFor(link.token).machines.listMachines({}),
      refused(Code.Unauthenticated, /^share link is not valid$/),
    );
  });

  it("unlocks with the attach password, locks a source out past 3 free failures, audits each", async () => {
    await using relay = await memoryRelay();
    const acme = await relay.workspace("acme");
    const web = await acme.machine("web-1", { passwordHash: await hashPassword("hunter22") });
    const { machines } = acme.clients;
    const unlocked = await machines.unlockMachine({ machineId: web.id, password: "hunter22" });
    assert.match(unlocked.machineToken, /^cmt_/);
    // Three failures are free; the fourth is judged and earns the first lock-out (1 s).
    for (let i = 0; i < 4; i++) {
      await assert.rejects(
        machines.unlockMachine({ machineId: web.id, password: `guess-${i}` }),
        refused(Code.Unauthenticated, /^wrong password for this machine$/),
      );
    }
    // Locked out now, the right password included, until the lock-out passes.
    await assert.rejects(
      machines.unlockMachine({ machineId: web.id, password: "hunter22" }),
      refused(Code.ResourceExhausted, /^too many wrong passwords for this machine; try again in/),
    );
    relay.advance(24 * 3_600_000);
    await machines.unlockMachine({ machineId: web.id, password: "hunter22" });

    await relay.deps.audit.flush();
    const { events } = await acme.clients.audit.listEvents({});
    const reasons = events.map((e) => `${e.kind}:${JSON.parse(e.detailJson).reason ?? ""}`);
    assert.deepEqual(reasons, [
      "password.unlocked:",
      "password.failed:wrong password",
      "password.failed:wrong password",
      "password.failed:wrong password",
      "password.failed:wrong password",
      "password.failed:locked out after too many wrong passwords",
      "password.unlocked:",
    ]);
    assert.ok(events.every((e) => e.peer === MEMORY_PEER && e.machineId === web.id));
    assert.ok(
      events.every((e) => !e.detailJson.includes("hunter22") && !e.detailJson.includes("guess")),
    );
  });

  it("refuses a password for a machine without one, or of another workspace", async () => {
    await using relay = await memoryRelay();
    const acme = await relay.workspace("acme");
    const other = await relay.workspace("other");
    const open = await acme.machine("open-1");
    const locked = await acme.machine("web-1", { passwordHash: await hashPassword("hunter22") });
    await assert.rejects(
      acme.clients.machines.unlockMachine({ machineId: open.id, password: "x" }),
      refused(Code.FailedPrecondition, /^machine has no attach password$/),
    );
    await assert.rejects(
      other.clients.machines.unlockMachine({ machineId: locked.id, password: "hunter22" }),
      refused(Code.NotFound, /not found/),
    );
  });
});
