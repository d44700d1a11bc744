/** A frozen machine or relay (SIGSTOP) is noticed: sessions end with a clear error in bounded time, the machine reads offline, SIGCONT brings it back. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import {
  type AgentProcess,
  clientEnv,
  killAll,
  processAlive,
  type RelayProcess,
  runCmdop,
  startAgent,
  startRelay,
  streamCli,
  type StreamingCli,
  waitFor,
  waitMachineOnline,
  type Workspace,
} from "../_harness.ts";

/**
 * The relay pings every 10 s and gives up after 15 s of silence; this is the
 * bound the tests hold it to, with room for a busy machine. The measured
 * times are printed.
 */
const NOTICED_WITHIN_MS = 30_000;

/** The CLI's exit code, or a failure when it is still running after `ms` (it hangs). */
async function exitWithin(cli: StreamingCli, ms: number): Promise<number> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      cli.child.kill("SIGKILL");
      reject(new Error(`the CLI still runs after ${ms} ms; stderr:\n${cli.stderr()}`));
    }, ms);
  });
  try {
    return await Promise.race([cli.status, hung]);
  } finally {
    clearTimeout(timer);
  }
}

describe("a frozen machine", () => {
  let relay: RelayProcess;
  let ws: Workspace;
  let env: Record<string, string>;
  let agent: AgentProcess;

  before(async () => {
    relay = await startRelay();
    ws = await relay.createWorkspace("acme");
    env = await clientEnv(relay.url, ws.api_key);
    // The client of a resumable exec tries to resume it for the grace the agent granted (5 min
    // by default) and then ends with exit 3; 2 s here.
    agent = await startAgent(relay.url, ws.enroll_token, {
      hostname: "web-1",
      extraArgs: ["--resume-grace", "2s"],
    });
  });

  after(async () => {
    // Never leave a stopped process behind: SIGKILL does not reach a stopped one's handlers.
    for (const pid of [agent?.pid, relay?.pid]) {
      if (pid) Deno.kill(pid, "SIGCONT");
    }
    await killAll();
  });

  /** Stops the agent, runs `check`, and lets it go on again however `check` ends. */
  async function whileStopped(check: () => Promise<void>): Promise<void> {
    Deno.kill(agent.pid, "SIGSTOP");
    try {
      await check();
    } finally {
      Deno.kill(agent.pid, "SIGCONT");
    }
  }

  it("ends an exec whose output stopped with exit 3 and says the machine stopped answering", async () => {
    const cli = streamCli(
      [
        "connect",
        "exec",
        "web-1",
        "--timeout",
        "0",
        "--",
        "sh",
        "-c",
        [
          "echo pid $$",
          "while :; do echo tick; sleep 0.2; done",
        ].join("; "),
      ],
      env,
    );
    await waitFor("output to flow", () => cli.stdout().includes("tick"), 20_000);
    const remotePid = Number(/pid (\d+)/.exec(cli.stdout())![1]);
    await whileStopped(async () => {
      const stopped = Date.now();
      const code = await exitWithin(cli, 2 * NOTICED_WITHIN_MS);
      const took = Date.now() - stopped;
      console.log(`exec: frozen machine reported after ${took} ms`);
      assert.equal(code, 3, cli.stderr());
      assert.match(cli.stderr(), /machine "web-1" stopped answering \(nothing heard for 1\d s\)/);
      assert.ok(took < NOTICED_WITHIN_MS, `noticed after ${took} ms`);
      await waitMachineOnline(relay.url, ws.api_key, "web-1", false, NOTICED_WITHIN_MS);
      const list = await runCmdop(["connect", "--list", "--json"], { env });
      assert.equal(JSON.parse(list.stdout)[0].online, false, list.stdout);
    });
    await waitMachineOnline(relay.url, ws.api_key, "web-1", true, NOTICED_WITHIN_MS);
    // Its client gone for good, the agent ends the command once its grace is over.
    await waitFor("the remote command to be killed", async () => !(await processAlive(remotePid)));
    const again = await runCmdop(["connect", "exec", "web-1", "--", "echo", "back"], { env });
    assert.equal(again.stdout, "back\n", again.stderr);
  });

  it("ends an idle attach with exit 3, and the machine serves again after SIGCONT", async () => {
    const cli = streamCli(["connect", "web-1"], env);
    await cli.write("echo ready\n");
    await waitFor("the shell to answer", () => cli.stdout().includes("ready"), 20_000);
    await whileStopped(async () => {
      const stopped = Date.now();
      const code = await exitWithin(cli, 2 * NOTICED_WITHIN_MS);
      const took = Date.now() - stopped;
      console.log(`attach: frozen machine reported after ${took} ms`);
      assert.equal(code, 3, cli.stderr());
      assert.match(cli.stderr(), /machine "web-1" stopped answering/);
      assert.ok(took < NOTICED_WITHIN_MS, `noticed after ${took} ms`);
    });
    await waitMachineOnline(relay.url, ws.api_key, "web-1", true, NOTICED_WITHIN_MS);
    const again = await runCmdop(["connect", "exec", "web-1", "--", "echo", "back"], { env });
    assert.equal(again.stdout, "back\n", again.stderr);
  });
});

describe("a frozen relay", () => {
  let relay: RelayProcess;
  let ws: Workspace;
  let env: Record<string, string>;
  let agent: AgentProcess;

  before(async () => {
    relay = await startRelay();
    ws = await relay.createWorkspace("acme");
    env = await clientEnv(relay.url, ws.api_key);
    agent = await startAgent(relay.url, ws.enroll_token, { hostname: "web-1" });
  });

  after(async () => {
    if (relay?.pid) Deno.kill(relay.pid, "SIGCONT");
    await killAll();
  });

  it("ends a session with a clear error, and the agent comes back once the relay runs again", async () => {
    const cli = streamCli(["connect", "web-1"], env);
    await cli.write("echo ready\n");
    await waitFor("the shell to answer", () => cli.stdout().includes("ready"), 20_000);
    const agentLog = agent.stderr().length;
    Deno.kill(relay.pid, "SIGSTOP");
    try {
      const stopped = Date.now();
      const code = await exitWithin(cli, 2 * NOTICED_WITHIN_MS);
      const took = Date.now() - stopped;
      console.log(`attach: frozen relay reported after ${took} ms`);
      assert.equal(code, 1, cli.stderr());
      assert.match(cli.stderr(), /the relay at http:\/\/127\.0\.0\.1:\d+ stopped answering/);
      assert.ok(took < NOTICED_WITHIN_MS, `noticed after ${took} ms`);
      // The agent gives up on the silent control stream and keeps trying to reconnect.
      await waitFor(
        "the agent to notice",
        () => /relay connection to .* lost/.test(agent.stderr().slice(agentLog)),
        40_000,
      );
      const noticed = Date.now() - stopped;
      console.log(`agent noticed the frozen relay after ${noticed} ms`);
    } finally {
      Deno.kill(relay.pid, "SIGCONT");
    }
    await waitMachineOnline(relay.url, ws.api_key, "web-1", true, 30_000);
    const again = await runCmdop(["connect", "exec", "web-1", "--", "echo", "back"], { env });
    assert.equal(again.stdout, "back\n", again.stderr);
  });
});
