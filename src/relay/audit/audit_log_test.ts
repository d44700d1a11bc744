import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { AuditLog } from "./audit_log.ts";
import {
  type AuditStore,
  boundedDetail,
  MAX_ARGV_WORDS,
  MAX_DETAIL_BYTES,
  MAX_FIELD_CHARS,
  type NewAuditEvent,
} from "./audit_events.ts";

function memoryStore(): AuditStore & { events: NewAuditEvent[] } {
  const events: NewAuditEvent[] = [];
  return {
    events,
    append: (e) => {
      events.push(e);
      return Promise.resolve();
    },
    list: () => Promise.resolve([]),
  };
}

const actor = { kind: "api_key" as const, id: "0123456789ab" };

describe("AuditLog", () => {
  it("record() logs a failing write as an error and never throws or rejects", async () => {
    const lines: { message: string; level?: string }[] = [];
    const failing: AuditStore = {
      append: () => Promise.reject(new Error("disk full")),
      list: () => Promise.resolve([]),
    };
    const log = new AuditLog(
      failing,
      () => 42,
      (message, fields) => lines.push({ message, level: fields?.level }),
    );
    log.record({ workspaceId: "ws", kind: "session.start", actor, peer: "10.0.0.1" });
    await log.flush();
    assert.equal(lines.length, 1);
    assert.equal(lines[0].level, "error");
    assert.match(lines[0].message, /audit: cannot write event session\.start of workspace ws/);
  });

  it("record() stamps the relay's clock and keeps the machine's hostname", async () => {
    const store = memoryStore();
    const log = new AuditLog(store, () => 1_234, () => {});
    log.record({
      workspaceId: "ws",
      kind: "machine.removed",
      actor,
      peer: "10.0.0.1",
      machine: { id: "m1", hostname: "web-1" },
    });
    await log.flush();
    assert.deepEqual(store.events, [{
      workspaceId: "ws",
      timeMs: 1_234,
      kind: "machine.removed",
      actorKind: "api_key",
      actorId: "0123456789ab",
      peer: "10.0.0.1",
      machineId: "m1",
      machineName: "web-1",
      detail: {},
    }]);
  });

  it("noteUse() records a key's first use from each address once, and never a machine's", async () => {
    const store = memoryStore();
    const log = new AuditLog(store, () => 0, () => {});
    const key = {
      kind: "workspace" as const,
      workspaceId: "ws",
      via: "api_key" as const,
      keyId: "ab",
    };
    log.noteUse(key, "10.0.0.1");
    log.noteUse(key, "10.0.0.1");
    log.noteUse(key, "10.0.0.2");
    log.noteUse(
      {
        kind: "share",
        workspaceId: "ws",
        machineId: "m1",
        shareId: "s1",
        readOnly: false,
        owner: "api_key:3f9a0c21b7de",
      },
      "10.0.0.1",
    );
    log.noteUse(
      { kind: "machine", workspaceId: "ws", machineId: "m2", hostname: "ci", reach: [] },
      "10.0.0.1",
    );
    await log.flush();
    assert.deepEqual(store.events.map((e) => [e.kind, e.actorId, e.peer]), [
      ["key.used", "ab", "10.0.0.1"],
      ["key.used", "ab", "10.0.0.2"],
      ["share.used", "s1", "10.0.0.1"],
    ]);
  });
});

describe("boundedDetail()", () => {
  it("cuts long fields and argv, and keeps any detail under its byte cap", () => {
    const long = "y".repeat(MAX_FIELD_CHARS * 3);
    const cut = JSON.parse(boundedDetail({ path: long, exit_code: 1 }));
    assert.equal(cut.exit_code, 1);
    assert.match(cut.path, new RegExp(`…\\(${long.length}\\)$`));
    const argv = Array.from({ length: 500 }, (_, i) => `w${i}`);
    const words = JSON.parse(boundedDetail({ argv })).argv;
    assert.equal(words.length, MAX_ARGV_WORDS + 1);
    assert.equal(words.at(-1), "…(500 words)");
    const huge = boundedDetail({
      argv: Array(64).fill(long),
      a: long,
      b: long,
      c: long,
      d: long,
      e: long,
      f: long,
      g: long,
      h: long,
    });
    assert.ok(new TextEncoder().encode(huge).length <= MAX_DETAIL_BYTES, `${huge.length}`);
    assert.match(JSON.parse(huge).argv, /64 words, too long to keep/);
  });
});
