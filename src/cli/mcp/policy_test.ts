import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Machine } from "../../../gen/cmdop/v1/machine_pb.ts";
import type { CliError } from "../errors.ts";
import { mcpPolicy } from "./policy.ts";

const machine = (hostname: string, labels: Record<string, string> = {}, displayName = "") =>
  ({
    id: `00000000-0000-4000-8000-00000000000${hostname.length}`,
    hostname,
    displayName,
    labels,
  }) as unknown as Machine;

describe("mcpPolicy()", () => {
  it("allows every machine and command when no limit is given", () => {
    const policy = mcpPolicy({});
    assert.equal(policy.allows(machine("db-1")), true);
    policy.checkMachine(machine("db-1"));
    policy.checkCommand("rm -rf /");
  });

  it("allows a machine named by hostname, display name or id, or carrying an allowed label", () => {
    const web = machine("web-1", { role: "web" });
    const policy = mcpPolicy({ allowMachines: ["db-1", "Build box"], allowLabels: ["role=web"] });
    assert.equal(policy.allows(machine("db-1")), true);
    assert.equal(policy.allows(machine("ci-7", {}, "Build box")), true);
    assert.equal(policy.allows(web), true);
    assert.equal(mcpPolicy({ allowMachines: [web.id.toUpperCase()] }).allows(web), true);
    assert.equal(policy.allows(machine("db-2", { role: "db" })), false);
  });

  it("refuses a machine outside the limits, naming them", () => {
    const policy = mcpPolicy({ allowMachines: ["db-1"], allowLabels: ["role=web"] });
    assert.throws(
      () => policy.checkMachine(machine("cache-1", { role: "cache" })),
      (error: CliError) => {
        assert.equal(
          error.message,
          'machine "cache-1" is outside this server\'s limits ' +
            "(--allow-machine db-1 --allow-label role=web)",
        );
        return true;
      },
    );
  });

  it("refuses a command line that matches a --deny-command pattern, naming it", () => {
    const policy = mcpPolicy({ denyCommands: ["^rm\\b", "shutdown"] });
    policy.checkCommand("ls -l /tmp");
    policy.checkCommand("echo rm");
    assert.throws(
      () => policy.checkCommand("sudo shutdown -h now"),
      /the command "sudo shutdown -h now" is refused: it matches --deny-command "shutdown"/,
    );
  });

  it("says which flag is malformed", () => {
    assert.throws(() => mcpPolicy({ allowLabels: ["role"] }), /--allow-label: label "role"/);
    assert.throws(
      () => mcpPolicy({ denyCommands: ["(rm"] }),
      /--deny-command "\(rm" is not a regular expression/,
    );
  });
});
