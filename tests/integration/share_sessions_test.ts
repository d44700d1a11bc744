/** Revoking or expiring a share link ends the sessions it opened, and their remote processes with them. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import {
  clientEnv,
  killAll,
  type RelayProcess,
  runCmdop,
  spawnCli,
  startAgent,
  startRelay,
  waitFor,
  type Workspace,
} from "../_harness.ts";
import { HOUR_MS, type TestClock, testClock } from "../_login.ts";

interface Running {
  /** Resolves with the CLI's exit code and stderr. */
  done: Promise<{ code: number; stderr: string }>;
  /** Resolves once the remote command printed its start line. */
  started: Promise<void>;
}

/** `cmdop connect exec LINK -- sh -c 'echo started; sleep N'`, watched as it runs. */
function execThroughLink(link: string, home: string, marker: string): Running {
  const child = spawnCli(
    ["connect", "exec", link, "--", "sh", "-c", `echo started; exec sleep ${marker}`],
    { CMDOP_HOME: home },
  );
  const started = Promise.withResolvers<void>();
  const stdout = (async () => {
    let text = "";
    for await (const chunk of child.stdout) {
      text += new TextDecoder().decode(chunk);
      if (text.includes("started")) started.resolve();
    }
  })();
  const done = (async () => {
    const stderr = new Response(child.stderr).text();
    const status = await child.status;
    await stdout;
    started.reject(new Error("exec ended before the command started"));
    return { code: status.code, stderr: await stderr };
  })();
  started.promise.catch(() => {});
  return { done, started: started.promise };
}

/** True while a process whose command line contains `marker` runs. */
async function remoteRunning(marker: string): Promise<boolean> {
  const out = await new Deno.Command("pgrep", { args: ["-f", `sleep ${marker}`] }).output();
  return out.code === 0;
}

describe("share links and the sessions they opened", () => {
  let relay: RelayProcess;
  let clock: TestClock;
  let acme: Workspace;
  let env: Record<string, string>;
  let stranger: string;

  async function share(ttl: string): Promise<{ id: string; link: string }> {
    const r = await runCmdop(["connect", "share", "kept-box", "--json", "--ttl", ttl], { env });
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  }

  before(async () => {
    clock = await testClock();
    relay = await startRelay({ env: clock.env });
    acme = await relay.createWorkspace("acme");
    env = await clientEnv(relay.url, acme.api_key);
    stranger = (await clientEnv(relay.url)).CMDOP_HOME;
    await startAgent(relay.url, acme.enroll_token, { hostname: "kept-box" });
  });
  after(killAll);

  it("revoking the link ends a running exec with exit 2 and kills its command", async () => {
    const created = await share("4h");
    const marker = `${600 + Math.floor(Math.random() * 1000)}.25`;
    const run = execThroughLink(created.link, stranger, marker);
    await run.started;
    const revoke = await runCmdop(["connect", "share", "revoke", created.id.slice(0, 8)], { env });
    assert.equal(revoke.code, 0, revoke.stderr);
    const { code, stderr } = await run.done;
    assert.equal(code, 2, stderr);
    assert.match(stderr, /share link was revoked/);
    await waitFor("the remote command to be killed", async () => !(await remoteRunning(marker)));
  });

  it("a link's expiry ends a running exec", async () => {
    const created = await share("1h");
    const marker = `${600 + Math.floor(Math.random() * 1000)}.75`;
    const run = execThroughLink(created.link, stranger, marker);
    await run.started;
    await clock.advance(2 * HOUR_MS);
    const { code, stderr } = await run.done;
    assert.equal(code, 2, stderr);
    assert.match(stderr, /share link expired at/);
    await waitFor("the remote command to be killed", async () => !(await remoteRunning(marker)));
  });
});
