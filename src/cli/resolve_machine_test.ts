import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { type Machine, MachineSchema } from "../../gen/cmdop/v1/machine_pb.ts";
import { CliError } from "./errors.ts";
import { requireOnline, resolveMachine } from "./resolve_machine.ts";

const machine = (hostname: string, displayName: string, id: string, online = true): Machine =>
  create(MachineSchema, { hostname, displayName, id, online });

const fleet = [
  machine("web-1", "Frontend", "11111111-1111-4111-8111-111111111111"),
  machine("web-2", "web-1-old", "22222222-2222-4222-8222-222222222222"),
  machine("db", "Database", "33333333-3333-4333-8333-333333333333", false),
  machine("vps-audi", "audi", "44444444-4444-4444-8444-444444444444"),
];

function exitCodeOf(fn: () => unknown): number {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof CliError);
    return error.exitCode;
  }
  throw new Error("expected an error");
}

describe("resolveMachine()", () => {
  it("prefers an exact hostname over a prefix of another name", () => {
    assert.equal(resolveMachine(fleet, "web-1").hostname, "web-1");
  });

  it("matches an exact display name", () => {
    assert.equal(resolveMachine(fleet, "Database").hostname, "db");
    assert.equal(resolveMachine(fleet, "audi").hostname, "vps-audi");
  });

  it("matches a unique prefix case-insensitively", () => {
    assert.equal(resolveMachine(fleet, "VPS").hostname, "vps-audi");
  });

  it("reports an ambiguous prefix with exit 4 and every candidate", () => {
    try {
      resolveMachine(fleet, "web");
      assert.fail("expected ambiguity");
    } catch (error) {
      assert.ok(error instanceof CliError);
      assert.equal(error.exitCode, 4);
      assert.equal(error.details.filter((d) => d.includes("web-")).length, 2);
    }
  });

  it("matches a full UUID in any case and never falls through to prefixes", () => {
    assert.equal(
      resolveMachine(fleet, "44444444-4444-4444-8444-444444444444".toUpperCase()).hostname,
      "vps-audi",
    );
    assert.equal(
      exitCodeOf(() => resolveMachine(fleet, "11111111-1111-4111-8111-000000000000")),
      1,
    );
  });

  it("fails with exit 1 when nothing matches", () => {
    assert.equal(exitCodeOf(() => resolveMachine(fleet, "mail")), 1);
  });
});

describe("requireOnline()", () => {
  it("fails with exit 3 for an offline machine", () => {
    assert.equal(exitCodeOf(() => requireOnline(fleet[2])), 3);
    requireOnline(fleet[0]);
  });
});
