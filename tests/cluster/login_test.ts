/** `cmdop login` on a cluster: the device flow, refresh rotation and revocation shared by nodes on PostgreSQL. */
import { after, afterEach, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import {
  clientEnv,
  killAll,
  type RelayProcess,
  runCmdop,
  startAgent,
  waitFor,
} from "../_harness.ts";
import {
  addUser,
  loginAs,
  postOAuth,
  readAuth,
  startLogin,
  submitDevicePage,
  type TestClock,
  testClock,
} from "../_login.ts";
import {
  type ClusterServices,
  clusterSkipReason,
  createWorkspaceWithCli,
  listMachines,
  startClusterServices,
  startNode,
} from "./_cluster.ts";

const skip = await clusterSkipReason("cmdop login on a cluster");

describe("cmdop login on a cluster", { skip }, () => {
  let services: ClusterServices;
  let clock: TestClock;
  let a: RelayProcess;
  let b: RelayProcess;

  const poll = {
    client_id: "cmdop-cli",
    grant_type: "urn:ietf:params:oauth:grant-type:device_code",
  };

  before(async () => {
    services = await startClusterServices();
    clock = await testClock();
    const env = { ...clock.env, CMDOP_RELAY_DEVICE_INTERVAL: "1" };
    [a, b] = await Promise.all(
      ["a", "b"].map((id) => startNode(services.pg.url, services.nats.url, id, { env })),
    );
    const alpha = await createWorkspaceWithCli(services.pg.url, "alpha");
    await createWorkspaceWithCli(services.pg.url, "beta");
    await addUser(services.pg.url, "ana@example.com", "ana-secret", ["alpha"]);
    await Promise.all([
      startAgent(a.url, alpha.enroll_token, { hostname: "box-a" }),
      startAgent(b.url, alpha.enroll_token, { hostname: "box-b" }),
    ]);
    await waitFor("both agents' presence", async () => {
      const machines = await listMachines(a.url, alpha.api_key);
      return machines.filter((m) => m.online).length === 2;
    });
  });

  after(async () => {
    await killAll();
    await services?.stop();
  });
  afterEach(() => clock.resume());

  it("signs in on one node with the code approved on another, and reaches machines of both", async () => {
    const env = await clientEnv(a.url);
    const pending = await startLogin(env, ["--json"]);
    assert.match(pending.shown, new RegExp(`open ${a.url}/device`));
    const page = await submitDevicePage(b.url, {
      user_code: pending.userCode,
      email: "ana@example.com",
      password: "ana-secret",
      action: "approve",
    });
    assert.equal(page.status, 200, page.text);
    const r = await pending.result;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).user.email, "ana@example.com");
    const list = await runCmdop(["connect", "--list", "--json"], { env });
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(JSON.parse(list.stdout).map((m: { hostname: string }) => m.hostname), [
      "box-a",
      "box-b",
    ]);
    const exec = await runCmdop(["connect", "exec", "box-b", "--", "echo", "across"], { env });
    assert.equal(exec.stdout, "across\n", exec.stderr);
  });

  it("paces polls of one device code the same on every node", async () => {
    // Two polls within the interval whatever the machine's speed: the relay's time stands still.
    await clock.freeze();
    const start = await postOAuth(a.url, "/oauth/device_authorization", { client_id: "cmdop-cli" });
    assert.equal(start.status, 200);
    const deviceCode = String(start.body.device_code);
    const first = await postOAuth(b.url, "/oauth/token", { ...poll, device_code: deviceCode });
    assert.equal(first.body.error, "authorization_pending");
    const tooSoon = await postOAuth(a.url, "/oauth/token", { ...poll, device_code: deviceCode });
    assert.equal(tooSoon.body.error, "slow_down");
    const denied = await submitDevicePage(b.url, {
      user_code: String(start.body.user_code),
      action: "deny",
    });
    assert.equal(denied.status, 200);
    await clock.advance(7_000);
    const late = await postOAuth(a.url, "/oauth/token", { ...poll, device_code: deviceCode });
    assert.equal(late.body.error, "access_denied");
  });

  it("rotates refresh tokens on any node, and revokes the login once one is replayed", async () => {
    const env = await clientEnv(a.url);
    assert.equal((await loginAs(a.url, env, "ana@example.com", "ana-secret")).code, 0);
    const stolen = String((await readAuth(env.CMDOP_HOME)).refresh_token);
    const refresh = { client_id: "cmdop-cli", grant_type: "refresh_token", refresh_token: stolen };
    const rotated = await postOAuth(b.url, "/oauth/token", refresh);
    assert.equal(rotated.status, 200);
    assert.notEqual(rotated.body.refresh_token, stolen);
    const replay = await postOAuth(a.url, "/oauth/token", refresh);
    assert.equal(replay.body.error, "invalid_grant");
    const r = await runCmdop(["connect", "--list"], { env });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /hint: run "cmdop login" again/);
  });

  it("ends the login on every node after logout on one", async () => {
    const env = await clientEnv(a.url);
    assert.equal((await loginAs(a.url, env, "ana@example.com", "ana-secret")).code, 0);
    const access = String((await readAuth(env.CMDOP_HOME)).access_token);
    assert.equal((await listMachines(b.url, access)).length, 2, "node b takes node a's token");
    const out = await runCmdop(["logout"], { env });
    assert.equal(out.code, 0, out.stderr);
    await assert.rejects(listMachines(b.url, access), /login token was revoked/);
  });
});
