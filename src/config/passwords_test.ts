/** Tests of remembered machine attach passwords. */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  clearMachinePassword,
  getMachinePassword,
  listMachinePasswords,
  setMachinePassword,
} from "./passwords.ts";
import { makeTempHome, modeOf } from "./_test_helpers.ts";

const clock = (ms: number) => () => ms;

describe("setMachinePassword() and getMachinePassword()", () => {
  it("remember a password per workspace and machine in a 0600 file", async () => {
    const home = await makeTempHome();
    const machine = { workspace: "prod", machineId: "m-1" };
    assert.equal(await getMachinePassword(home, machine), undefined);
    await setMachinePassword(home, {
      ...machine,
      hostname: "vps-audi",
      password: "pw1",
    }, clock(5));
    await setMachinePassword(
      home,
      {
        workspace: "staging",
        machineId: "m-1",
        hostname: "vps-audi",
        password: "pw2",
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
    const machine = { workspace: "prod", machineId: "m-1", hostname: "a" };
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
      }, clock(7));
    }
    const prod = await listMachinePasswords(home, "prod");
    assert.deepEqual(prod, [
      { workspace: "prod", machine_id: "m-1", hostname: "db", saved_at_ms: 7 },
      { workspace: "prod", machine_id: "m-2", hostname: "web", saved_at_ms: 7 },
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
    }, clock(1));
    assert.equal(await clearMachinePassword(home, machine), true);
    assert.equal(await clearMachinePassword(home, machine), false);
    assert.equal(await getMachinePassword(home, machine), undefined);
  });
});
