/** `cmdop login`: the device flow against a real relay, token refresh, expiry, revocation, and the RFC error codes. */
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
  type Workspace,
} from "../_harness.ts";
import {
  addUser,
  DAY_MS,
  HOUR_MS,
  loginAs,
  postOAuth,
  readAuth,
  startLogin,
  submitDevicePage,
  type TestClock,
  testClock,
} from "../_login.ts";

describe("cmdop login", () => {
  let relay: RelayProcess;
  let clock: TestClock;
  let alpha: Workspace;

  before(async () => {
    clock = await testClock();
    relay = await startRelay({ env: { ...clock.env, CMDOP_RELAY_DEVICE_INTERVAL: "1" } });
    alpha = await relay.createWorkspace("alpha");
    const beta = await relay.createWorkspace("beta");
    await addUser(relay.dataDir, "ana@example.com", "ana-secret", ["alpha"]);
    await addUser(relay.dataDir, "bo@example.com", "bo-secret", ["alpha", "beta"]);
    await Promise.all([
      startAgent(relay.url, alpha.enroll_token, { hostname: "alpha-box" }),
      startAgent(relay.url, beta.enroll_token, { hostname: "beta-box" }),
    ]);
  });

  after(killAll);
  afterEach(() => clock.resume());

  it("signs in through the /device page and stores the tokens in auth.json (0600)", async () => {
    const env = await clientEnv(relay.url);
    const pending = await startLogin(env, ["--json"]);
    assert.match(pending.shown, new RegExp(`open ${relay.url}/device`));
    const wrong = await submitDevicePage(relay.url, {
      user_code: pending.userCode,
      email: "ana@example.com",
      password: "nope",
      action: "approve",
    });
    assert.equal(wrong.status, 401);
    const page = await submitDevicePage(relay.url, {
      user_code: pending.userCode.toLowerCase(),
      email: "Ana@Example.com",
      password: "ana-secret",
      action: "approve",
    });
    assert.equal(page.status, 200);
    const r = await pending.result;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).user.email, "ana@example.com");
    const auth = await readAuth(env.CMDOP_HOME);
    assert.match(String(auth.access_token), /^cma_/);
    assert.match(String(auth.refresh_token), /^cmr_/);
    assert.equal((await Deno.stat(join(env.CMDOP_HOME, "auth.json"))).mode! & 0o777, 0o600);
    // The login token is the chain's last resort: with nothing else, it reaches ana's workspace.
    const list = await runCmdop(["connect", "--list", "--json"], { env });
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(JSON.parse(list.stdout).map((m: { hostname: string }) => m.hostname), [
      "alpha-box",
    ]);
  });

  it("exits 2 when the login is denied on the /device page", async () => {
    const env = await clientEnv(relay.url);
    const pending = await startLogin(env);
    const page = await submitDevicePage(relay.url, { user_code: pending.userCode, action: "deny" });
    assert.equal(page.status, 200);
    const r = await pending.result;
    assert.equal(r.code, 2);
    assert.match(r.stderr, /the login was denied/);
  });

  it("answers the token endpoint with RFC 8628 error codes", async () => {
    // Two polls within the interval whatever the machine's speed: the relay's time stands still.
    await clock.freeze();
    const start = await postOAuth(relay.url, "/oauth/device_authorization", {
      client_id: "cmdop-cli",
    });
    assert.equal(start.status, 200);
    assert.equal(start.body.interval, 1);
    const poll = {
      client_id: "cmdop-cli",
      grant_type: "urn:ietf:params:oauth:grant-type:device_code",
    };
    const deviceCode = String(start.body.device_code);
    const first = await postOAuth(relay.url, "/oauth/token", { ...poll, device_code: deviceCode });
    assert.equal(first.body.error, "authorization_pending");
    const tooSoon = await postOAuth(relay.url, "/oauth/token", {
      ...poll,
      device_code: deviceCode,
    });
    assert.equal(tooSoon.status, 400);
    assert.equal(tooSoon.body.error, "slow_down");
    const unknown = await postOAuth(relay.url, "/oauth/token", { ...poll, device_code: "cmc_x" });
    assert.equal(unknown.body.error, "invalid_grant");
    const badGrant = await postOAuth(relay.url, "/oauth/token", {
      client_id: "cmdop-cli",
      grant_type: "password",
    });
    assert.equal(badGrant.body.error, "unsupported_grant_type");
    const badRefresh = await postOAuth(relay.url, "/oauth/token", {
      client_id: "cmdop-cli",
      grant_type: "refresh_token",
      refresh_token: "cmr_nope",
    });
    assert.equal(badRefresh.body.error, "invalid_grant");
    await clock.advance(11 * 60_000);
    const late = await postOAuth(relay.url, "/oauth/token", { ...poll, device_code: deviceCode });
    assert.equal(late.body.error, "expired_token");
  });

  it("acts in the workspace named by --workspace, and only in the user's own", async () => {
    const env = await clientEnv(relay.url);
    assert.equal((await loginAs(relay.url, env, "bo@example.com", "bo-secret")).code, 0);
    const unsynced = await runCmdop(["connect", "--list"], { env });
    assert.equal(unsynced.code, 1);
    assert.match(unsynced.stderr, /this login can act in 2 workspaces/);
    assert.equal((await runCmdop(["connect", "workspace", "sync"], { env })).code, 0);
    const beta = await runCmdop(["connect", "--list", "--json", "--workspace", "beta"], { env });
    assert.equal(JSON.parse(beta.stdout)[0].hostname, "beta-box");
    const active = await runCmdop(["connect", "--list", "--json"], { env });
    assert.equal(JSON.parse(active.stdout)[0].hostname, "alpha-box");

    const anaEnv = await clientEnv(relay.url);
    assert.equal((await loginAs(relay.url, anaEnv, "ana@example.com", "ana-secret")).code, 0);
    await Deno.writeTextFile(
      join(anaEnv.CMDOP_HOME, "ssh_workspaces.json"),
      JSON.stringify({ version: 1, active: "beta", workspaces: [{ name: "beta" }] }),
    );
    const foreign = await runCmdop(["connect", "--list"], { env: anaEnv });
    assert.equal(foreign.code, 2);
    assert.match(foreign.stderr, /this login has no access to workspace "beta"/);
  });

  it("refreshes an access token the relay says has expired, and one this machine knows has", async () => {
    const env = await clientEnv(relay.url);
    assert.equal((await loginAs(relay.url, env, "ana@example.com", "ana-secret")).code, 0);
    const before = await readAuth(env.CMDOP_HOME);
    await clock.advance(2 * HOUR_MS);
    const r = await runCmdop(["connect", "--list", "--json"], { env });
    assert.equal(r.code, 0, r.stderr);
    const after = await readAuth(env.CMDOP_HOME);
    assert.notEqual(after.access_token, before.access_token);
    assert.notEqual(after.refresh_token, before.refresh_token);

    const path = join(env.CMDOP_HOME, "auth.json");
    await Deno.writeTextFile(path, JSON.stringify({ ...after, expires_at_ms: 1 }));
    assert.equal((await runCmdop(["connect", "--list"], { env })).code, 0);
    assert.notEqual((await readAuth(env.CMDOP_HOME)).access_token, after.access_token);
  });

  it("revokes the whole login when a refresh token is used twice", async () => {
    const env = await clientEnv(relay.url);
    assert.equal((await loginAs(relay.url, env, "ana@example.com", "ana-secret")).code, 0);
    const stolen = String((await readAuth(env.CMDOP_HOME)).refresh_token);
    const refresh = { client_id: "cmdop-cli", grant_type: "refresh_token", refresh_token: stolen };
    assert.equal((await postOAuth(relay.url, "/oauth/token", refresh)).status, 200);
    const replay = await postOAuth(relay.url, "/oauth/token", refresh);
    assert.equal(replay.body.error, "invalid_grant");
    const r = await runCmdop(["connect", "--list"], { env });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /hint: run "cmdop login" again/);
  });

  it("exits 2 with the hint to log in again after logout revoked the tokens", async () => {
    const env = await clientEnv(relay.url);
    assert.equal((await loginAs(relay.url, env, "ana@example.com", "ana-secret")).code, 0);
    const saved = await Deno.readTextFile(join(env.CMDOP_HOME, "auth.json"));
    const out = await runCmdop(["logout"], { env });
    assert.equal(out.code, 0);
    assert.match(out.stdout, /logged out/);
    const none = await runCmdop(["connect", "--list"], { env });
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no API key or login found/);
    await Deno.writeTextFile(join(env.CMDOP_HOME, "auth.json"), saved);
    const r = await runCmdop(["connect", "--list"], { env });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /revoked/);
    assert.match(r.stderr, /hint: run "cmdop login" again/);
  });

  it("sends a login token only to the relay that issued it", async () => {
    const env = await clientEnv(relay.url);
    assert.equal((await loginAs(relay.url, env, "ana@example.com", "ana-secret")).code, 0);
    const r = await runCmdop(["connect", "--list", "--server", "http://127.0.0.1:9"], { env });
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /the login token is for "http:\/\/127\.0\.0\.1:\d+", not "http:\/\/127\.0\.0\.1:9"/,
    );
  });

  it("exits 2 once the refresh token has expired too", async () => {
    const env = await clientEnv(relay.url);
    assert.equal((await loginAs(relay.url, env, "ana@example.com", "ana-secret")).code, 0);
    await clock.advance(31 * DAY_MS);
    const r = await runCmdop(["connect", "--list"], { env });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /auth\.json has expired or was revoked \(refresh token expired\)/);
    assert.match(r.stderr, /hint: run "cmdop login" again/);
  });
});
