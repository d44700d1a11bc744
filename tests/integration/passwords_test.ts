/** Per-machine attach passwords end to end: the in-stream challenge, remembered passwords, hidden prompts, lock-outs, token reuse. */
import { after, afterEach, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { SessionKind } from "../../gen/cmdop/v1/session_pb.ts";
import { silentContext } from "../_context.ts";
import { openRelayConnection } from "../../src/cli/relay_client.ts";
import { openSession } from "../../src/cli/session_client.ts";
import {
  clientEnv,
  killAll,
  MAIN,
  type RelayProcess,
  runCmdop,
  startAgent,
  startRelay,
  type Workspace,
} from "../_harness.ts";
import { type TestClock, testClock } from "../_login.ts";
import { Tmux } from "../e2e/_tmux.ts";
import { needTools } from "../_tools.ts";

const PASSWORD = "correct horse";
const noTmux = await needTools("the password prompt test", ["tmux"]);

describe("per-machine passwords", () => {
  let relay: RelayProcess;
  let clock: TestClock;
  let ws: Workspace;
  let env: Record<string, string>;

  before(async () => {
    clock = await testClock();
    relay = await startRelay({ env: clock.env });
    ws = await relay.createWorkspace("acme");
    env = await clientEnv(relay.url, ws.api_key);
    await Promise.all(
      ["pw-box", "locked-box", "spare-box", "tty-box"].map((hostname) =>
        startAgent(relay.url, ws.enroll_token, { hostname, password: PASSWORD })
      ),
    );
  });

  after(killAll);
  afterEach(() => clock.resume());

  it("exits 2 with --no-interactive when no password is remembered", async () => {
    const r = await runCmdop(["connect", "exec", "pw-box", "--no-interactive", "--", "true"], {
      env,
    });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /this machine requires an attach password/);
    assert.match(r.stderr, /hint: remember one with: cmdop connect password set <host>/);
  });

  it("password set reads stdin, checks the password with the relay, and stores only a right one", async () => {
    const home = (await clientEnv(relay.url)).CMDOP_HOME;
    const mine = { ...env, CMDOP_HOME: home };
    const empty = await runCmdop(["connect", "password", "set", "pw-box", "--no-interactive"], {
      env: mine,
    });
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /the password of "pw-box" read from stdin is empty/);
    const wrong = await runCmdop(["connect", "password", "set", "pw-box"], {
      env: mine,
      stdin: "nope\n",
    });
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /wrong password for "pw-box"; nothing was stored/);
    const set = await runCmdop(["connect", "password", "set", "pw-box", "--json"], {
      env: mine,
      stdin: PASSWORD + "\n",
    });
    assert.equal(set.code, 0, set.stderr);
    assert.equal(JSON.parse(set.stdout).verified, true);
    assert.equal((await Deno.stat(join(home, "machine_passwords.json"))).mode! & 0o777, 0o600);

    const list = await runCmdop(["connect", "password", "list", "--json"], { env: mine });
    const entries = JSON.parse(list.stdout);
    assert.deepEqual(
      entries.map((e: { hostname: string; workspace: string }) => [e.workspace, e.hostname]),
      [
        ["acme", "pw-box"],
      ],
    );
    assert.ok(!list.stdout.includes(PASSWORD));
    const exec = await runCmdop(["connect", "exec", "pw-box", "-q", "--", "echo", "in"], {
      env: mine,
    });
    assert.equal(exec.stdout, "in\n", exec.stderr);

    const clear = await runCmdop(["connect", "password", "clear", "pw-box"], { env: mine });
    assert.equal(clear.code, 0);
    const none = await runCmdop(["connect", "password", "list"], { env: mine });
    assert.match(none.stderr, /no machine passwords stored/);
    const again = await runCmdop(["connect", "password", "clear", "pw-box"], { env: mine });
    assert.equal(again.code, 1);
  });

  it("locks a machine out after repeated wrong passwords, for longer each time, per machine", async () => {
    // The relay's time stands still: a 1 s lock-out outlives any CLI start, and ends on advance.
    await clock.freeze();
    const attempt = (host: string, password: string) =>
      runCmdop(["connect", "password", "set", host], { env, stdin: password + "\n" });
    for (let i = 0; i < 3; i++) {
      const r = await attempt("locked-box", "guess");
      assert.equal(r.code, 2);
      assert.match(r.stderr, /wrong password/);
    }
    assert.match((await attempt("locked-box", "guess")).stderr, /wrong password/);
    // The relay's clock goes back a minute while the next CLI starts, so a lock-out of
    // 1 s cannot run out on a busy machine before it is observed (it reads as up to 61 s;
    // how the lock-outs grow is lockoutMs()'s unit test).
    await clock.advance(-60_000);
    const locked = await attempt("locked-box", PASSWORD);
    assert.equal(locked.code, 2);
    assert.match(locked.stderr, /too many wrong passwords for this machine; try again in \d+s/);
    const other = await attempt("spare-box", PASSWORD);
    assert.equal(other.code, 0, other.stderr);

    await clock.advance(60_000 + 1_100);
    assert.match((await attempt("locked-box", "guess")).stderr, /wrong password/);
    await clock.advance(-60_000);
    const longer = await attempt("locked-box", PASSWORD);
    assert.match(longer.stderr, /try again in \d+s/);
    await clock.advance(60_000 + 2_100);
    assert.equal((await attempt("locked-box", PASSWORD)).code, 0);
  });

  it("unlocks once per run: a second session reuses the 24 h machine token", async () => {
    const ctx = silentContext();
    const conn = await openRelayConnection(ctx, {}, {
      server: relay.url,
      serverSource: "test",
      credential: ws.api_key,
      credentialSource: "test",
      kind: "api_key",
    });
    const { machines } = await conn.machines.listMachines({});
    const machineId = machines.find((m) => m.hostname === "pw-box")!.id;
    let asked = 0;
    const passwords = () => {
      asked++;
      return Promise.resolve(PASSWORD);
    };
    for (const word of ["one", "two"]) {
      const session = await openSession(
        conn,
        { machineId, kind: SessionKind.EXEC, argv: ["echo", word] },
        passwords,
        ctx.signal,
      );
      session.endInput();
      let out = "";
      for (let next = await session.frames.next(); !next.done; next = await session.frames.next()) {
        const msg = next.value.msg;
        if (msg.case === "output") out += new TextDecoder().decode(msg.value.data);
        if (msg.case === "exit") break;
      }
      assert.equal(out, `${word}\n`);
    }
    assert.equal(asked, 1);
    assert.equal(conn.machineTokens.size, 1);
    // The token lives in memory only: the next run is challenged again.
    const next = await runCmdop(["connect", "exec", "pw-box", "-q", "--", "true"], { env });
    assert.equal(next.code, 2);
  });

  it("challenges a share link's holder too, who can remember the password by link", async () => {
    const share = await runCmdop(["connect", "share", "pw-box"], { env });
    const link = share.stdout.trim();
    const stranger = { CMDOP_HOME: (await clientEnv(relay.url)).CMDOP_HOME };
    const denied = await runCmdop(["connect", "exec", link, "-q", "--", "true"], { env: stranger });
    assert.equal(denied.code, 2);
    assert.match(denied.stderr, /this machine requires an attach password/);
    const set = await runCmdop(["connect", "password", "set", link], {
      env: stranger,
      stdin: PASSWORD,
    });
    assert.equal(set.code, 0, set.stderr);
    const r = await runCmdop(["connect", "exec", link, "-q", "--", "echo", "ok"], {
      env: stranger,
    });
    assert.equal(r.stdout, "ok\n", r.stderr);
  });

  it("prompts for the password on a terminal without echoing it", { skip: noTmux }, async () => {
    const tmux = await Tmux.start({
      cols: 100,
      rows: 20,
      env: { ...env, PATH: Deno.env.get("PATH") ?? "" },
    });
    try {
      const cmdop = `${Deno.execPath()} run -A --quiet ${MAIN}`;
      await tmux.type(`${cmdop} connect exec tty-box -- echo unlocked; echo "exit=$?"`);
      await tmux.waitFor(/Password for tty-box:/);
      await tmux.type(PASSWORD);
      const screen = await tmux.waitFor(/exit=0/);
      assert.match(screen, /^unlocked$/m);
      assert.ok(!screen.includes(PASSWORD), screen);
    } finally {
      await tmux.kill();
    }
  });
});
