/** Tests of remembered machine attach passwords. */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  clearMachinePassword,
  findMachinePassword,
  getMachinePassword,
  listMachinePasswords,
  setMachinePassword,
} from "./passwords.ts";
import { makeTempHome, modeOf } from "./_test_helpers.ts";

const clock = (ms: number) => () => ms;
const S = "https://relay.example.com";

describe("setMachinePassword() and getMachinePassword()", () => {
  it("remember a password per workspace and machine in a 0600 file", async () => {
    const home = await makeTempHome();
    const machine = { workspace: "prod", machineId: "m-1" };
    assert.equal(await getMachinePassword(home, machine), undefined);
    await setMachinePassword(home, {
      ...machine,
      hostname: "vps-audi",
      password: "pw1",
      server: S,
    }, clock(5));
    await setMachinePassword(
      home,
      {
        workspace: "staging",
        machineId: "m-1",
        hostname: "vps-audi",
        password: "pw2",
        server: S,
      },
      clock(6),
    );
    assert.equal(await getMachinePassword(home, machine), "pw1");
    assert.equal(
      await getMachinePassword(home, {
        workspace: "staging",
        machineId: "m-1",
      }),
      "pw2",
    );
    assert.equal(await modeOf(join(home, "machine_passwords.json")), 0o600);
  });

  it("replace the password of the same machine", async () => {
    const home = await makeTempHome();
    const machine = { workspace: "prod", machineId: "m-1", hostname: "a", server: S };
    await setMachinePassword(home, { ...machine, password: "old" }, clock(1));
    await setMachinePassword(home, { ...machine, password: "new" }, clock(2));
    assert.equal(await getMachinePassword(home, machine), "new");
    assert.equal((await listMachinePasswords(home)).length, 1);
  });
});

describe("listMachinePasswords()", () => {
  it("lists machines without their passwords, filtered by workspace", async () => {
    const home = await makeTempHome();
    for (
      const [workspace, machineId, hostname] of [
        ["prod", "m-2", "web"],
        ["prod", "m-1", "db"],
        ["staging", "m-3", "api"],
      ]
    ) {
      await setMachinePassword(home, {
        workspace,
        machineId,
        hostname,
        password: "x",
        server: S,
      }, clock(7));
    }
    const prod = await listMachinePasswords(home, "prod");
    assert.deepEqual(prod, [
      { workspace: "prod", machine_id: "m-1", server: S, hostname: "db", saved_at_ms: 7 },
      { workspace: "prod", machine_id: "m-2", server: S, hostname: "web", saved_at_ms: 7 },
    ]);
    assert.equal((await listMachinePasswords(home)).length, 3);
    assert.ok(
      !JSON.stringify(await listMachinePasswords(home)).includes("password"),
    );
  });
});

describe("clearMachinePassword()", () => {
  it("forgets one machine and says whether it had a password", async () => {
    const home = await makeTempHome();
    const machine = { workspace: "prod", machineId: "m-1" };
    await setMachinePassword(home, {
      ...machine,
      hostname: "a",
      password: "pw",
      server: S,
    }, clock(1));
    assert.equal(await clearMachinePassword(home, machine), true);
    assert.equal(await clearMachinePassword(home, machine), false);
    assert.equal(await getMachinePassword(home, machine), undefined);
  });
});

describe("findMachinePassword()", () => {
  it("hands a password only to the relay it was proved to, never to one claiming the same UUID", async () => {
    const home = await makeTempHome();
    await setMachinePassword(home, {
      workspace: "prod",
      machineId: "m-1",
      hostname: "a",
      password: "pw",
      server: S,
    }, clock(1));
    assert.equal(await findMachinePassword(home, S, "m-1"), "pw");
    assert.equal(await findMachinePassword(home, "http://127.0.0.1:4780", "m-1"), undefined);
    assert.equal(
      await findMachinePassword(home, "https://relay.example.com.evil", "m-1"),
      undefined,
    );
  });

  it("never sends a password saved before the relay was recorded", async () => {
    const home = await makeTempHome();
    await Deno.mkdir(home, { recursive: true });
    await Deno.writeTextFile(
      join(home, "machine_passwords.json"),
      JSON.stringify({
        version: 1,
        passwords: [{
          workspace: "prod",
          machine_id: "m-1",
          hostname: "a",
          password: "pw",
          saved_at_ms: 1,
        }],
      }),
    );
    assert.equal(await findMachinePassword(home, S, "m-1"), undefined);
    assert.equal((await listMachinePasswords(home)).length, 1);
  });
});
