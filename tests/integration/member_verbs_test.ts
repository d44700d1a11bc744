/** A workspace member lists and revokes API keys and removes machines; what they admitted (sessions, an agent's stream) ends with them; share links may not. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { MachineService } from "../../gen/cmdop/v1/machine_pb.ts";
import { WorkspaceService } from "../../gen/cmdop/v1/workspace_pb.ts";
import { createRelayTransport } from "../../src/lib/transport.ts";
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

/** A running `cmdop connect exec HOST -- sh -c 'echo started; exec sleep MARKER'`. */
function execSleeping(host: string, env: Record<string, string>, marker: string) {
  const child = spawnCli(
    ["connect", "exec", host, "--", "sh", "-c", `echo started; exec sleep ${marker}`],
    env,
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

async function remoteRunning(marker: string): Promise<boolean> {
  const out = await new Deno.Command("pgrep", { args: ["-f", `sleep ${marker}`] }).output();
  return out.code === 0;
}

/** `promise`, or a failure naming `what` after `ms`: a session that never ends fails the test, not the suite. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

const marker = () => `${700 + Math.floor(Math.random() * 1000)}.5`;

describe("a workspace member's key and machine verbs", () => {
  let relay: RelayProcess;
  let acme: Workspace;
  let env: Record<string, string>;

  /** Mints another API key of acme the way the operator does; returns it and its fingerprint. */
  async function secondKey(): Promise<{ api_key: string; fingerprint: string }> {
    const r = await runCmdop([
      "relay",
      "key",
      "create",
      "--workspace",
      "acme",
      "--data",
      relay.dataDir,
      "--json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  }

  async function share(host: string): Promise<{ id: string; link: string }> {
    const r = await runCmdop(["connect", "share", host, "--json"], { env });
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  }

  before(async () => {
    relay = await startRelay();
    acme = await relay.createWorkspace("acme");
    env = await clientEnv(relay.url, acme.api_key);
    await startAgent(relay.url, acme.enroll_token, { hostname: "member-box" });
  });
  after(killAll);

  it("key list names the keys by fingerprint and marks the caller's", async () => {
    const other = await secondKey();
    const r = await runCmdop(["connect", "key", "list", "--json"], { env });
    assert.equal(r.code, 0, r.stderr);
    const keys: { fingerprint: string; current: boolean }[] = JSON.parse(r.stdout);
    assert.equal(keys.length >= 2, true, r.stdout);
    assert.deepEqual(keys.find((k) => k.fingerprint === other.fingerprint)?.current, false);
    assert.equal(keys.filter((k) => k.current).length, 1, r.stdout);
    assert.doesNotMatch(r.stdout, /cmk_/);
  });

  it("key revoke ends the key's calls and the exec running under it", async () => {
    const other = await secondKey();
    const otherEnv = await clientEnv(relay.url, other.api_key);
    const sleeping = marker();
    const run = execSleeping("member-box", otherEnv, sleeping);
    await run.started;
    const revoke = await runCmdop(
      ["connect", "key", "revoke", other.fingerprint.slice(0, 10), "--json"],
      { env },
    );
    assert.equal(revoke.code, 0, revoke.stderr);
    assert.deepEqual(JSON.parse(revoke.stdout), {
      fingerprint: other.fingerprint.slice(0, 10),
      revoked: 1,
    });
    const { code, stderr } = await within(
      run.done,
      30_000,
      "the exec under the revoked key ending",
    );
    assert.equal(code, 2, stderr);
    assert.match(stderr, /API key was revoked/);
    await waitFor("the remote command to be killed", async () => !(await remoteRunning(sleeping)));
    const refused = await runCmdop(["connect", "--list"], { env: otherEnv });
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /API key is not valid/);
    const again = await runCmdop(["connect", "key", "revoke", other.fingerprint], { env });
    assert.equal(again.code, 1, again.stderr);
    assert.match(again.stderr, new RegExp(`no API key ${other.fingerprint}`));
  });

  it("key revoke refuses what is not a fingerprint, naming it", async () => {
    const r = await runCmdop(["connect", "key", "revoke", "cmk_oops"], { env });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /"cmk_oops" is not a fingerprint/);
  });

  it("a share link may not list or revoke keys, nor remove machines", async () => {
    const { link } = await share("member-box");
    const token = link.slice(link.indexOf("/s/") + 3);
    const transport = createRelayTransport({ baseUrl: relay.url, bearer: token });
    const workspaces = createClient(WorkspaceService, transport);
    const machines = createClient(MachineService, transport);
    const { machines: seen } = await machines.listMachines({});
    const denied = async (call: () => Promise<unknown>, what: RegExp) => {
      await assert.rejects(call, (error: unknown) => {
        assert.equal(ConnectError.from(error).code, Code.PermissionDenied);
        assert.match(ConnectError.from(error).rawMessage, what);
        return true;
      });
    };
    await denied(() => workspaces.listApiKeys({}), /share link cannot list API keys/);
    await denied(
      () => workspaces.revokeApiKey({ fingerprint: "0123456789ab" }),
      /share link cannot revoke API keys/,
    );
    await denied(
      () => machines.removeMachine({ machineId: seen[0].id }),
      /share link cannot remove machines/,
    );
    const cli = await runCmdop(["connect", "machine", "remove", link], {
      env: await clientEnv(relay.url),
    });
    assert.notEqual(cli.code, 0, cli.stderr);
    assert.match(cli.stderr, /share link cannot remove machines/);
    const still = await runCmdop(["connect", "--list", "--json"], { env });
    assert.match(still.stdout, /member-box/);
  });

  it("machine remove ends its sessions and its agent's control stream; its credential stops working", async () => {
    const agent = await startAgent(relay.url, acme.enroll_token, { hostname: "doomed-box" });
    const sleeping = marker();
    const run = execSleeping("doomed-box", env, sleeping);
    await run.started;
    const removed = await runCmdop(["connect", "machine", "remove", "doomed-box", "--json"], {
      env,
    });
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(JSON.parse(removed.stdout).hostname, "doomed-box");
    const { code, stderr } = await within(
      run.done,
      30_000,
      "the exec on the removed machine ending",
    );
    assert.equal(code, 2, stderr);
    assert.match(stderr, /machine was removed/);
    await waitFor("the remote command to be killed", async () => !(await remoteRunning(sleeping)));
    await waitFor(
      "the agent to be told its machine was removed",
      () =>
        Promise.resolve(/machine was removed|machine credential is not valid/.test(agent.stderr())),
      60_000,
    );
    const listed = await runCmdop(["connect", "--list", "--json"], { env });
    assert.doesNotMatch(listed.stdout, /doomed-box/);
    const unknown = await runCmdop(["connect", "machine", "remove", "doomed-box"], { env });
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /doomed-box/);
  });
});
