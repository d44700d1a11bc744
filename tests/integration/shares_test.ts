/** Share links end to end: TTL rounding, absolute expiry on the relay's clock, one machine only, revocation, isolation. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import {
  clientEnv,
  killAll,
  type RelayProcess,
  runCmdop,
  startAgent,
  startRelay,
  type Workspace,
} from "../_harness.ts";
import { HOUR_MS, type TestClock, testClock } from "../_login.ts";

interface ShareJson {
  id: string;
  link: string;
  created_at: string;
  expires_at: string | null;
  ttl_hours: number;
  status?: string;
}

describe("cmdop connect share", () => {
  let relay: RelayProcess;
  let clock: TestClock;
  let acme: Workspace;
  let other: Workspace;
  let env: Record<string, string>;
  /** Someone outside the workspace: no key, no login, an empty CMDOP_HOME. */
  let stranger: Record<string, string>;

  async function share(host: string, ...args: string[]): Promise<ShareJson> {
    const r = await runCmdop(["connect", "share", host, "--json", ...args], { env });
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  }

  const hoursOf = (s: ShareJson) =>
    (Date.parse(s.expires_at!) - Date.parse(s.created_at)) / HOUR_MS;

  before(async () => {
    clock = await testClock();
    relay = await startRelay({ env: clock.env });
    acme = await relay.createWorkspace("acme");
    other = await relay.createWorkspace("other");
    env = await clientEnv(relay.url, acme.api_key);
    stranger = { CMDOP_HOME: (await clientEnv(relay.url)).CMDOP_HOME };
    await Promise.all([
      startAgent(relay.url, acme.enroll_token, { hostname: "shared-box" }),
      startAgent(relay.url, acme.enroll_token, { hostname: "private-box" }),
      startAgent(relay.url, other.enroll_token, { hostname: "other-box" }),
    ]);
  });

  after(killAll);

  it("prints a link valid 24 hours by default, to stdout", async () => {
    const r = await runCmdop(["connect", "share", "shared-box"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^${relay.url}/s/cms_[A-Za-z0-9_-]+\n$`));
    assert.match(r.stderr, /expires .*, in 24h/);
    assert.equal(hoursOf(await share("shared-box")), 24);
  });

  it("counts the TTL in whole hours, rounding up; 0 never expires", async () => {
    assert.equal(hoursOf(await share("shared-box", "--ttl", "4h")), 4);
    const half = await share("shared-box", "--ttl", "30m");
    assert.equal(half.ttl_hours, 1);
    assert.equal(hoursOf(half), 1);
    assert.equal((await share("shared-box", "--ttl", "90m")).ttl_hours, 2);
    assert.equal((await share("shared-box", "--ttl", "3")).ttl_hours, 3);
    const forever = await share("shared-box", "--ttl", "0");
    assert.equal(forever.expires_at, null);
    const bad = await runCmdop(["connect", "share", "shared-box", "--ttl", "soon"], { env });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--ttl "soon" is not a duration/);
  });

  it("lets someone outside the workspace exec through the link, on that machine only", async () => {
    const { link } = await share("shared-box");
    const r = await runCmdop(["connect", "exec", link, "--", "hostname"], { env: stranger });
    assert.equal(r.code, 0, r.stderr);
    const json = await runCmdop(["connect", "exec", link, "--json", "--", "echo", "hi"], {
      env: stranger,
    });
    assert.equal(JSON.parse(json.stdout).stdout, "hi\n");
    // Attach through the link too (stdin piped: the remote shell reads it, as with ssh -T).
    const attached = await runCmdop(["connect", link], {
      env: stranger,
      stdin: "echo attached-via-link; exit 6\n",
    });
    assert.equal(attached.code, 6, attached.stderr);
    assert.match(attached.stdout, /attached-via-link/);

    const token = link.slice(link.lastIndexOf("/") + 1);
    const asKey = { ...stranger, CMDOP_SERVER: relay.url, CMDOP_API_KEY: token };
    const seen = await runCmdop(["connect", "--list", "--json"], { env: asKey });
    assert.deepEqual(JSON.parse(seen.stdout).map((m: { hostname: string }) => m.hostname), [
      "shared-box",
    ]);
    const list = await runCmdop(["connect", "--list", "--json"], { env });
    const privateId =
      JSON.parse(list.stdout).find((m: { hostname: string }) => m.hostname === "private-box").id;
    for (const host of ["private-box", privateId, "other-box"]) {
      const denied = await runCmdop(["connect", "exec", host, "--", "true"], { env: asKey });
      assert.equal(denied.code, 1, host);
      assert.match(denied.stderr, /no machine (matches|with id)/);
    }
    const reshare = await runCmdop(["connect", "share", "shared-box"], { env: asKey });
    assert.equal(reshare.code, 2);
    assert.match(reshare.stderr, /a share link cannot manage shares/);
  });

  it("stops working once revoked, with exit 2 and a clear message", async () => {
    const created = await share("shared-box");
    const revoke = await runCmdop(["connect", "share", "revoke", created.id.slice(0, 8)], { env });
    assert.equal(revoke.code, 0, revoke.stderr);
    const r = await runCmdop(["connect", "exec", created.link, "--", "true"], { env: stranger });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /share link was revoked \(credential from share link\)/);
    assert.match(
      r.stderr,
      /hint: the link may have been revoked or have expired: ask for a new one/,
    );
    const list = await runCmdop(["connect", "share", "list", "--json"], { env });
    const listed = JSON.parse(list.stdout).find((s: ShareJson) => s.id === created.id);
    assert.equal(listed.status, "revoked");
  });

  it("expires at an absolute time on the relay's clock, however much it is used", async () => {
    const created = await share("shared-box", "--ttl", "30m");
    const use = () => runCmdop(["connect", "exec", created.link, "--", "true"], { env: stranger });
    await clock.advance(30 * 60_000);
    assert.equal((await use()).code, 0);
    await clock.advance(29 * 60_000);
    assert.equal((await use()).code, 0);
    await clock.advance(2 * 60_000);
    const late = await use();
    assert.equal(late.code, 2);
    assert.match(late.stderr, /share link expired at \d{4}-\d\d-\d\dT/);
  });

  it("keeps each workspace's shares to itself", async () => {
    const created = await share("shared-box");
    const otherEnv = await clientEnv(relay.url, other.api_key);
    const list = await runCmdop(["connect", "share", "list", "--json"], { env: otherEnv });
    assert.deepEqual(JSON.parse(list.stdout), []);
    const revoke = await runCmdop(["connect", "share", "revoke", created.id], { env: otherEnv });
    assert.equal(revoke.code, 1);
    assert.match(revoke.stderr, /not found/);
    const byId = await runCmdop(["connect", "share", "shared-box"], { env: otherEnv });
    assert.equal(byId.code, 1);
    const still = await runCmdop(["connect", "exec", created.link, "--", "true"], {
      env: stranger,
    });
    assert.equal(still.code, 0);
  });
});
