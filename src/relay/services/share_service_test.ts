import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import { MEMORY_PEER, memoryRelay } from "../_memory_relay.ts";
import { SessionKind } from "../../../gen/cmdop/v1/session_pb.ts";

const HOUR_MS = 3_600_000;

/** A rejection with this code whose message matches. */
const refused = (code: Code, message: RegExp) => (error: unknown) => {
  assert.ok(error instanceof ConnectError, `expected a ConnectError, got ${error}`);
  assert.equal(Code[error.code], Code[code], error.rawMessage);
  assert.match(error.rawMessage, message);
  return true;
};

/** The token of a share link (`https://relay.example/s/cms_…`). */
const tokenOf = (link: string) => link.slice(link.lastIndexOf("/") + 1);

describe("ShareService (in memory)", () => {
  it("mints a link for one machine that lists that machine alone, until it expires", async () => {
    await using relay = await memoryRelay();
    const acme = await relay.workspace("acme");
    const web = await acme.machine("web-1");
    await acme.machine("db-1");
    const made = await acme.clients.shares.createShare({ machineId: web.id, ttlHours: 4 });
    assert.match(made.link, /^https:\/\/relay\.example\/s\/cms_[A-Za-z0-9_-]+$/);
    assert.equal(made.token, tokenOf(made.link));
    assert.equal(made.share?.machineHostname, "web-1");
    assert.equal(made.share?.expiresMs, BigInt(relay.now() + 4 * HOUR_MS));

    const shared = relay.clientsFor(made.token);
    const listed = await shared.machines.listMachines({});
    assert.deepEqual(listed.machines.map((m) => m.hostname), ["web-1"]);

    relay.advance(4 * HOUR_MS - 1);
    await shared.machines.listMachines({});
    relay.advance(1);
    await assert.rejects(
      shared.machines.listMachines({}),
      refused(Code.Unauthenticated, /^share link expired at 2026-01-01T04:00:00\.000Z$/),
    );
  });

  it("never expires with TTL 0, refuses a TTL past ten years", async () => {
    await using relay = await memoryRelay();
    const acme = await relay.workspace("acme");
    const web = await acme.machine("web-1");
    const forever = await acme.clients.shares.createShare({ machineId: web.id, ttlHours: 0 });
    assert.equal(forever.share?.expiresMs, 0n);
    relay.advance(20 * 365 * 24 * HOUR_MS);
    await relay.clientsFor(forever.token).machines.listMachines({});
    await assert.rejects(
      acme.clients.shares.createShare({ machineId: web.id, ttlHours: 24 * 365 * 10 + 1 }),
      refused(Code.InvalidArgument, /^TTL must be at most 87600h$/),
    );
  });

  it("revokes a link: refused at once, listed as revoked, recorded in the audit log", async () => {
    await using relay = await memoryRelay();
    const acme = await relay.workspace("acme");
    const web = await acme.machine("web-1");
    const made = await acme.clients.shares.createShare({ machineId: web.id, ttlHours: 1 });
    await acme.clients.shares.revokeShare({ shareId: made.share!.id });
    await assert.rejects(
      relay.clientsFor(made.token).machines.listMachines({}),
      refused(Code.Unauthenticated, /^share link was revoked$/),
    );
    const { shares } = await acme.clients.shares.listShares({});
    assert.deepEqual(shares.map((s) => [s.id, s.revoked]), [[made.share!.id, true]]);

    await relay.deps.audit.flush();
    const { events } = await acme.clients.audit.listEvents({});
    const kinds = events.map((e) => [e.kind, e.actorKind, e.peer, e.machineName]);
    assert.deepEqual(kinds, [
      ["share.created", "api_key", MEMORY_PEER, "web-1"],
      ["share.revoked", "api_key", MEMORY_PEER, "web-1"],
    ]);
    for (const event of events) {
      assert.equal(JSON.parse(event.detailJson).share_id, made.share!.id);
      assert.ok(!event.detailJson.includes(made.token), "the audit log never holds the token");
    }
  });

  it("keeps workspaces apart: another workspace's key cannot share, see or revoke", async () => {
    await using relay = await memoryRelay();
    const acme = await relay.workspace("acme");
    const other = await relay.workspace("other");
    const web = await acme.machine("web-1");
    const made = await acme.clients.shares.createShare({ machineId: web.id, ttlHours: 1 });

    await assert.rejects(
      other.clients.shares.createShare({ machineId: web.id, ttlHours: 1 }),
      refused(Code.NotFound, new RegExp(`^machine "${web.id}" not found$`)),
    );
    assert.deepEqual((await other.clients.shares.listShares({})).shares, []);
    await assert.rejects(
      other.clients.shares.revokeShare({ shareId: made.share!.id }),
      refused(Code.NotFound, /not found/),
    );
    // Untouched by those attempts.
    await relay.clientsFor(made.token).machines.listMachines({});
    assert.deepEqual((await other.clients.audit.listEvents({})).events, []);
  });

  it("lets neither a share link nor a stranger manage shares", async () => {
    await using relay = await memoryRelay();
    const acme = await relay.workspace("acme");
    const web = await acme.machine("web-1");
    const made = await acme.clients.shares.createShare({ machineId: web.id, ttlHours: 1 });
    const shared = relay.clientsFor(made.token);
    for (
      const call of [
        () => shared.shares.createShare({ machineId: web.id, ttlHours: 1 }),
        () => shared.shares.listShares({}),
        () => shared.shares.revokeShare({ shareId: made.share!.id }),
      ]
    ) {
      await assert.rejects(call(), refused(Code.PermissionDenied, /^a share link cannot /));
    }
    await assert.rejects(
      relay.clientsFor("").shares.listShares({}),
      refused(Code.Unauthenticated, /./),
    );
    await assert.rejects(
      relay.clientsFor("cms_forged").shares.listShares({}),
      refused(Code.Unauthenticated, /^share link is not valid$/),
    );
  });

  it("mints read-only links: listed as such, refusing exec, copies and forwards, and nothing to watch with no terminal open", async () => {
    await using relay = await memoryRelay();
    const acme = await relay.workspace("acme");
    const web = await acme.machine("web-1");
    const made = await acme.clients.shares.createShare({
      machineId: web.id,
      ttlHours: 1,
      readOnly: true,
    });
    assert.equal(made.share?.readOnly, true);
    const { shares } = await acme.clients.shares.listShares({});
    assert.deepEqual(shares.map((s) => s.readOnly), [true]);
    const stored = await relay.store.listShares(acme.id);
    assert.match(stored[0].owner, /^api_key:[0-9a-f]{12}$/);
    const other = await relay.workspace("other");
    assert.deepEqual((await other.clients.shares.listShares({})).shares, []);

    const viewer = relay.clientsFor(made.token);
    const open = async (value: Record<string, unknown>) => {
      for await (const _ of viewer.sessions.halfSession({ machineId: web.id, ...value })) {
        // The first frame (the half-duplex handle) comes before the refusal.
      }
    };
    await assert.rejects(
      open({ kind: SessionKind.EXEC, argv: ["touch", "/tmp/x"] }),
      refused(Code.PermissionDenied, /^this share link is read-only: .* not run commands$/),
    );
    await assert.rejects(
      open({ kind: SessionKind.FILE_SEND, file: { path: "/tmp/x" } }),
      refused(Code.PermissionDenied, /not copy files$/),
    );
    await assert.rejects(
      open({ kind: SessionKind.FORWARD, forward: { host: "127.0.0.1", port: 22 } }),
      refused(Code.PermissionDenied, /not forward ports$/),
    );
    await assert.rejects(
      open({ kind: SessionKind.PTY }),
      refused(Code.FailedPrecondition, /^nothing to watch yet: this read-only link shows/),
    );
  });
});
