/** Tests for the picker's pure logic: recent-first order, fuzzy filtering, and how machines read. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { type Machine, MachineSchema } from "../../../gen/cmdop/v1/machine_pb.ts";
import {
  choiceColumns,
  confirmMessage,
  filterMachines,
  fuzzyScore,
  machineChoice,
  orderMachines,
} from "./machine_choices.ts";

const machine = (id: string, hostname: string, displayName = "", online = true): Machine =>
  create(MachineSchema, { id, hostname, displayName, online });

const web = machine("1", "web-1", "Web One");
const db = machine("2", "db-1", "", false);
const api = machine("3", "api-1");
const cache = machine("4", "cache-1", "", false);
const hosts = (list: Machine[]) => list.map((m) => m.hostname);

describe("orderMachines()", () => {
  it("puts recently used machines first, most recent first", () => {
    assert.deepEqual(hosts(orderMachines([web, db, api, cache], ["4", "2"])), [
      "cache-1",
      "db-1",
      "api-1",
      "web-1",
    ]);
  });

  it("lists the never-used ones online first, then by name", () => {
    assert.deepEqual(hosts(orderMachines([cache, db, web, api], [])), [
      "api-1",
      "web-1",
      "cache-1",
      "db-1",
    ]);
  });

  it("ignores remembered ids of machines that no longer exist", () => {
    assert.deepEqual(hosts(orderMachines([web, api], ["gone", "1"])), ["web-1", "api-1"]);
  });
});

describe("filterMachines()", () => {
  const ordered = orderMachines([web, db, api, cache], ["2"]);

  it("keeps everything, in order, for an empty term", () => {
    assert.deepEqual(hosts(filterMachines(ordered, "")), hosts(ordered));
    assert.deepEqual(hosts(filterMachines(ordered, undefined)), hosts(ordered));
  });

  it("matches hostnames and display names by scattered letters, ignoring case", () => {
    assert.deepEqual(hosts(filterMachines(ordered, "wb1")), ["web-1"]);
    assert.deepEqual(hosts(filterMachines(ordered, "ONE")), ["web-1"]);
    assert.deepEqual(hosts(filterMachines(ordered, "zzz")), []);
  });

  it("ranks a prefix above a match inside a word, and keeps the base order on ties", () => {
    const dbWeb = machine("5", "db-web");
    const list = [dbWeb, web];
    assert.deepEqual(hosts(filterMachines(list, "web")), ["web-1", "db-web"]);
    assert.deepEqual(hosts(filterMachines(ordered, "1")), ["db-1", "api-1", "web-1", "cache-1"]);
  });
});

describe("fuzzyScore()", () => {
  it("scores any substring above any scattered match", () => {
    assert.ok(fuzzyScore("ach", "cache-1")! > fuzzyScore("ce1", "cache-1")!);
  });

  it("prefers letters that start words", () => {
    assert.ok(fuzzyScore("pw", "prod-web")! > fuzzyScore("pw", "pawn")!);
  });

  it("is undefined when the letters are not all there in order", () => {
    assert.equal(fuzzyScore("bw", "web"), undefined);
    assert.equal(fuzzyScore("x", ""), undefined);
  });
});

describe("machineChoice()", () => {
  it("marks online and offline machines and shows the hostname beside a display name", () => {
    assert.equal(machineChoice(web, 0).name, "Web One  web-1  ● online");
    assert.equal(machineChoice(db, 0).name, "db-1  ○ offline");
  });

  it("pads names and hostnames to the widest of all machines, so the columns line up", () => {
    const columns = choiceColumns([web, db]);
    assert.deepEqual(columns, { name: 7, hostname: 5 });
    assert.equal(machineChoice(web, 0, columns).name, "Web One  web-1  ● online");
    assert.equal(machineChoice(db, 0, columns).name, "db-1            ○ offline");
  });

  it("describes the machine by id, platform and last heartbeat", () => {
    const m = create(MachineSchema, {
      id: "9",
      hostname: "h",
      os: "linux",
      arch: "x86_64",
      lastHeartbeatMs: 10_000n,
    });
    assert.equal(machineChoice(m, 70_000).description, "9 · linux/x86_64 · last heartbeat 1m ago");
  });
});

describe("confirmMessage()", () => {
  it("shows name, hostname, online status and last heartbeat, then asks", () => {
    const m = create(MachineSchema, {
      hostname: "web-1",
      displayName: "Web One",
      online: true,
      lastHeartbeatMs: 1_700_000_000_000n,
    });
    assert.equal(
      confirmMessage(m, 1_700_000_005_000),
      [
        "Web One",
        "  hostname        web-1",
        "  status          ● online",
        "  last heartbeat  5s ago (2023-11-14T22:13:20.000Z)",
        "  Attach?",
      ].join("\n"),
    );
  });

  it("says never for a machine that has not been seen", () => {
    assert.match(confirmMessage(db, 0), /last heartbeat {2}never/);
  });
});
