/** The relay's audit log end to end: each event kind with its actor, address, machine and result; isolation; filters; a restart. */
import { after, afterEach, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  clientEnv,
  killAll,
  type RelayProcess,
  runCmdop,
  startAgent,
  startRelay,
  waitFor,
  type Workspace,
} from "../_harness.ts";
import { addUser, HOUR_MS, loginAs, type TestClock, testClock } from "../_login.ts";
import { hashSecret } from "../../src/lib/secrets.ts";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { AuditService } from "../../gen/cmdop/v1/audit_pb.ts";
import { createRelayTransport } from "../../src/lib/transport.ts";

const PASSWORD = "audit-pass-7";
const USER_PASSWORD = "ana-login-secret";

/** One line of `cmdop connect audit --json`. */
interface Event {
  time: string;
  time_ms: number;
  kind: string;
  actor_kind: string;
  actor_id: string;
  peer: string;
  machine_id: string;
  machine: string;
  detail: Record<string, unknown>;
}

describe("cmdop connect audit", () => {
  let relay: RelayProcess;
  let clock: TestClock;
  let acme: Workspace;
  let other: Workspace;
  let env: Record<string, string>;
  let keyId: string;
  /** Every secret a test handed out, for the check that none reaches the log. */
  const secrets: string[] = [];

  async function events(
    who: Record<string, string> = env,
    ...args: string[]
  ): Promise<Event[]> {
    const r = await runCmdop(["connect", "audit", "--json", ...args], { env: who });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.split("\n").filter((l) => l).map((l) => JSON.parse(l));
  }

  /** Waits until an event matching `pick` is listed (writes are in the background). */
  async function eventWhere(what: string, pick: (e: Event) => boolean): Promise<Event> {
    let found: Event | undefined;
    await waitFor(what, async () => (found = (await events()).find(pick)) !== undefined);
    return found!;
  }

  const ofSession = (kind: string, id: unknown) => (e: Event) =>
    e.kind === kind && e.detail.session_id === id;

  before(async () => {
    clock = await testClock();
    relay = await startRelay({ env: clock.env });
    acme = await relay.createWorkspace("acme");
    other = await relay.createWorkspace("other");
    secrets.push(acme.api_key, acme.enroll_token, other.api_key, other.enroll_token);
    env = await clientEnv(relay.url, acme.api_key);
    keyId = (await hashSecret(acme.api_key)).slice(0, 12);
    await Promise.all([
      startAgent(relay.url, acme.enroll_token, { hostname: "audit-box" }),
      startAgent(relay.url, acme.enroll_token, { hostname: "pw-box", password: PASSWORD }),
      startAgent(relay.url, other.enroll_token, { hostname: "other-box" }),
    ]);
  });

  after(killAll);
  afterEach(() => clock.resume());

  it("records an exec's start and end: key, address, machine, argv, exit code, bytes out", async () => {
    const r = await runCmdop([
      "connect",
      "exec",
      "audit-box",
      "--",
      "head",
      "-c",
      "1000000",
      "/dev/zero",
    ], {
      env,
    });
    assert.equal(r.code, 0, r.stderr);
    const start = await eventWhere(
      "the exec's start",
      (e) => e.kind === "session.start" && (e.detail.argv as string[])?.[0] === "head",
    );
    assert.equal(start.actor_kind, "api_key");
    assert.equal(start.actor_id, keyId);
    assert.equal(start.peer, "127.0.0.1");
    assert.equal(start.machine, "audit-box");
    assert.match(start.machine_id, /^[0-9a-f-]{36}$/);
    assert.equal(start.detail.session_kind, "exec");
    assert.deepEqual(start.detail.argv, ["head", "-c", "1000000", "/dev/zero"]);
    const end = await eventWhere(
      "the exec's end",
      ofSession("session.end", start.detail.session_id),
    );
    assert.equal(end.actor_id, keyId);
    assert.equal(end.machine, "audit-box");
    assert.equal(end.detail.exit_code, 0);
    assert.equal(end.detail.reason, "the command exited");
    assert.ok((end.detail.bytes_out as number) >= 1_000_000, JSON.stringify(end));
    assert.equal(typeof end.detail.duration_ms, "number");
    assert.ok(end.time_ms >= start.time_ms);
  });

  it("records the bytes piped in and a failing exit status", async () => {
    const input = "x".repeat(50_000);
    const r = await runCmdop(
      ["connect", "exec", "audit-box", "--", "sh", "-c", "cat >/dev/null; exit 3"],
      { env, stdin: input },
    );
    assert.equal(r.code, 3, r.stderr);
    const start = await eventWhere(
      "the piped exec's start",
      (e) =>
        e.kind === "session.start" && (e.detail.argv as string[])?.[2] === "cat >/dev/null; exit 3",
    );
    const end = await eventWhere("its end", ofSession("session.end", start.detail.session_id));
    assert.equal(end.detail.exit_code, 3);
    assert.equal(end.detail.bytes_in, 50_000);
  });

  it("records the first use of an API key from an address, once", async () => {
    const used = (await events()).filter((e) => e.kind === "key.used" && e.actor_id === keyId);
    assert.equal(used.length, 1, JSON.stringify(used));
    assert.equal(used[0].peer, "127.0.0.1");
    assert.equal(used[0].detail.first_use_from_address, true);
  });

  it("records share links created, used (sessions through them) and revoked", async () => {
    const created = await runCmdop(["connect", "share", "audit-box", "--json"], { env });
    assert.equal(created.code, 0, created.stderr);
    const share: { id: string; link: string } = JSON.parse(created.stdout);
    secrets.push(share.link);
    const linkFile = join(await Deno.makeTempDir(), "link.txt");
    await Deno.writeTextFile(linkFile, share.link + "\n");
    const stranger = { CMDOP_HOME: (await clientEnv(relay.url)).CMDOP_HOME };
    const r = await runCmdop(
      ["connect", "exec", "--link-file", linkFile, "--", "sh", "-c", "echo via-share"],
      { env: stranger },
    );
    assert.equal(r.code, 0, r.stderr);
    const made = await eventWhere(
      "share.created",
      (e) => e.kind === "share.created" && e.detail.share_id === share.id,
    );
    assert.equal(made.actor_id, keyId);
    assert.equal(made.machine, "audit-box");
    const used = await eventWhere(
      "share.used",
      (e) => e.kind === "share.used" && e.actor_id === share.id,
    );
    assert.equal(used.actor_kind, "share");
    assert.equal(used.peer, "127.0.0.1");
    const session = await eventWhere(
      "the session through the link",
      (e) => e.kind === "session.end" && e.actor_kind === "share" && e.actor_id === share.id,
    );
    assert.equal(session.machine, "audit-box");
    assert.equal(session.detail.exit_code, 0);
    assert.equal(session.detail.bytes_out, "via-share\n".length);

    // A share link is not a member: it cannot read the log.
    const token = share.link.slice(share.link.indexOf("/s/") + 3);
    const audit = createClient(
      AuditService,
      createRelayTransport({ baseUrl: relay.url, bearer: token }),
    );
    await assert.rejects(audit.listEvents({}), (error: unknown) => {
      assert.equal(ConnectError.from(error).code, Code.PermissionDenied);
      assert.match(ConnectError.from(error).rawMessage, /a share link cannot read the audit log/);
      return true;
    });

    const revoke = await runCmdop(["connect", "share", "revoke", share.id], { env });
    assert.equal(revoke.code, 0, revoke.stderr);
    const revoked = await eventWhere(
      "share.revoked",
      (e) => e.kind === "share.revoked" && e.detail.share_id === share.id,
    );
    assert.equal(revoked.actor_id, keyId);
  });

  it("records a wrong attach password and a right one, with the address, never the password", async () => {
    const wrong = await runCmdop(["connect", "password", "set", "pw-box"], {
      env,
      stdin: "not-the-password\n",
    });
    assert.notEqual(wrong.code, 0);
    const right = await runCmdop(["connect", "password", "set", "pw-box"], {
      env,
      stdin: PASSWORD + "\n",
    });
    assert.equal(right.code, 0, right.stderr);
    const failed = await eventWhere("password.failed", (e) => e.kind === "password.failed");
    assert.equal(failed.machine, "pw-box");
    assert.equal(failed.peer, "127.0.0.1");
    assert.equal(failed.actor_id, keyId);
    assert.equal(failed.detail.reason, "wrong password");
    const unlocked = await eventWhere("password.unlocked", (e) => e.kind === "password.unlocked");
    assert.equal(unlocked.machine, "pw-box");
    const all = JSON.stringify(await events());
    assert.doesNotMatch(all, /not-the-password/);
    assert.doesNotMatch(all, new RegExp(PASSWORD));
  });

  it("records a login, a workspace sync and a logout by the user", async () => {
    await addUser(relay.dataDir, "ana@example.com", USER_PASSWORD, ["acme"]);
    const ana = await clientEnv(relay.url);
    assert.equal((await loginAs(relay.url, ana, "ana@example.com", USER_PASSWORD)).code, 0);
    assert.equal((await runCmdop(["connect", "workspace", "sync"], { env: ana })).code, 0);
    const auth = JSON.parse(await Deno.readTextFile(join(ana.CMDOP_HOME, "auth.json")));
    secrets.push(...JSON.stringify(auth).match(/cm[ar]_[A-Za-z0-9_-]+/g) ?? []);
    // A login reads the log as any member does.
    const own = await runCmdop(["connect", "audit", "--json"], { env: ana });
    assert.equal(own.code, 0, own.stderr);
    assert.match(own.stdout, /"kind":"login"/);
    assert.equal((await runCmdop(["logout"], { env: ana })).code, 0);
    const login = await eventWhere("login", (e) => e.kind === "login");
    assert.equal(login.actor_kind, "login");
    assert.equal(login.peer, "127.0.0.1");
    assert.equal(login.detail.email, "ana@example.com");
    const sync = await eventWhere("workspace.sync", (e) => e.kind === "workspace.sync");
    assert.equal(sync.actor_id, login.actor_id);
    await eventWhere("logout", (e) => e.kind === "logout" && e.actor_id === login.actor_id);
  });

  it("records enrollments, keys created and revoked, and a machine removed", async () => {
    const enrolled = await eventWhere(
      "machine.enrolled",
      (e) => e.kind === "machine.enrolled" && e.machine === "audit-box",
    );
    assert.equal(enrolled.actor_kind, "enroll_token");
    assert.equal(enrolled.actor_id, (await hashSecret(acme.enroll_token)).slice(0, 12));
    const operatorMade = (await events()).filter((e) => e.kind === "key.created");
    assert.ok(operatorMade.some((e) => e.actor_kind === "operator"), JSON.stringify(operatorMade));

    const made = await runCmdop(
      ["relay", "key", "create", "--workspace", "acme", "--data", relay.dataDir, "--json"],
    );
    assert.equal(made.code, 0, made.stderr);
    const second: { api_key: string; fingerprint: string } = JSON.parse(made.stdout);
    secrets.push(second.api_key);
    await eventWhere(
      "key.created",
      (e) => e.kind === "key.created" && e.detail.fingerprint === second.fingerprint,
    );
    const revoke = await runCmdop(["connect", "key", "revoke", second.fingerprint], { env });
    assert.equal(revoke.code, 0, revoke.stderr);
    const revoked = await eventWhere(
      "key.revoked",
      (e) => e.kind === "key.revoked" && e.detail.fingerprint === second.fingerprint,
    );
    assert.equal(revoked.actor_id, keyId);

    const doomed = await startAgent(relay.url, acme.enroll_token, { hostname: "doomed-box" });
    const removed = await runCmdop(["connect", "machine", "remove", "doomed-box"], { env });
    assert.equal(removed.code, 0, removed.stderr);
    const gone = await eventWhere(
      "machine.removed",
      (e) => e.kind === "machine.removed" && e.machine === "doomed-box",
    );
    assert.equal(gone.actor_id, keyId);
    await doomed.kill();
  });

  it("keeps each workspace's events to its own members", async () => {
    const theirs = await clientEnv(relay.url, other.api_key);
    const r = await runCmdop(["connect", "exec", "other-box", "--", "true"], { env: theirs });
    assert.equal(r.code, 0, r.stderr);
    let seen: Event[] = [];
    await waitFor(
      "other's own session",
      async () => (seen = await events(theirs)).some((e) => e.kind === "session.end"),
    );
    assert.ok(seen.every((e) => e.machine !== "audit-box" && e.machine !== "pw-box"));
    assert.ok(seen.every((e) => e.actor_id !== keyId));
    const mine = await events();
    assert.ok(mine.length > 0);
    assert.ok(mine.every((e) => e.machine !== "other-box"), JSON.stringify(mine));
    // Naming the other workspace's machine finds nothing rather than its events.
    assert.deepEqual(await events(env, "--machine", "other-box"), []);
  });

  it("never holds a secret: keys, tokens, links, passwords", async () => {
    const all = JSON.stringify(await events());
    for (const secret of secrets) assert.ok(!all.includes(secret), `a secret in ${all}`);
    assert.doesNotMatch(all, /cm[kesmtarc]_[A-Za-z0-9]/);
    assert.doesNotMatch(all, new RegExp(USER_PASSWORD));
  });

  it("filters by --machine and --since, and prints a table without --json", async () => {
    const machine = await events(env, "--machine", "pw-box");
    assert.ok(machine.length > 0);
    assert.ok(machine.every((e) => e.machine === "pw-box"), JSON.stringify(machine));
    const byId = await events(env, "--machine", machine[0].machine_id);
    assert.deepEqual(byId.map((e) => e.kind), machine.map((e) => e.kind));

    await clock.advance(3 * HOUR_MS);
    const r = await runCmdop(["connect", "exec", "audit-box", "--", "echo", "later"], { env });
    assert.equal(r.code, 0, r.stderr);
    const since = new Date(Date.now() + 2 * HOUR_MS).toISOString();
    let later: Event[] = [];
    await waitFor(
      "the later session's end",
      async () =>
        (later = await events(env, "--since", since)).some((e) => e.kind === "session.end"),
    );
    assert.ok(later.every((e) => e.time_ms >= Date.parse(since)), JSON.stringify(later));
    assert.ok(
      later.every((e) => e.detail.argv === undefined || (e.detail.argv as string[])[0] === "echo"),
    );
    const day = await events(env, "--since", "24h");
    assert.ok(day.some((e) => e.kind === "share.created"));
    assert.ok(day.length > later.length);
    const limited = await runCmdop(["connect", "audit", "--json", "--limit", "2"], { env });
    assert.equal(limited.stdout.trim().split("\n").length, 2);
    assert.match(limited.stderr, /more events follow/);

    const table = await runCmdop(["connect", "audit", "--machine", "audit-box"], { env });
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^TIME +WHO +FROM +MACHINE +WHAT +RESULT/);
    assert.match(table.stdout, /session\.end exec .*exit 0/);
    assert.match(table.stdout, new RegExp(`api_key ${keyId} +127\\.0\\.0\\.1 +audit-box`));
  });

  it("relay audit reads the log from the store: one workspace, or every one with its id", async () => {
    const read = async (...args: string[]) => {
      const r = await runCmdop(["relay", "audit", "--data", relay.dataDir, "--json", ...args]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.split("\n").filter((l) => l).map((l) => JSON.parse(l));
    };
    const theirs = await read("--workspace", "other");
    assert.ok(theirs.some((e) => e.machine === "other-box"));
    assert.ok(theirs.every((e) => e.machine !== "audit-box" && e.workspace_id === undefined));
    const all = await read();
    const ids = new Set(all.map((e) => e.workspace_id));
    assert.deepEqual([...ids].sort(), [acme.workspace_id, other.workspace_id].sort());
    const table = await runCmdop([
      "relay",
      "audit",
      "--data",
      relay.dataDir,
      "--machine",
      "pw-box",
    ]);
    assert.match(table.stdout, /password\.failed/);
  });

  it("keeps the log across a relay restart", async () => {
    const before = await events();
    await relay.stop();
    relay = await startRelay({ dataDir: relay.dataDir, env: clock.env });
    const after = await events({ ...env, CMDOP_SERVER: relay.url });
    assert.deepEqual(after.slice(0, before.length), before);
  });
});
