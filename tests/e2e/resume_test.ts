/** End to end: an attached terminal (in tmux) outlives its relay's restart and resumes where it stopped. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import {
  type AgentProcess,
  clientEnv,
  killAll,
  processAlive,
  type RelayProcess,
  startAgent,
  startRelay,
  waitFor,
} from "../_harness.ts";
import { needTools } from "../_tools.ts";
import { cmdopTerminal, type Tmux } from "./_tmux.ts";

const noTmux = await needTools("resuming a terminal", ["tmux"]);

/** Everything the pane was sent, as tmux's pipe-pane wrote it, escapes and all. */
async function paneLog(path: string): Promise<string> {
  return await Deno.readTextFile(path).catch(() => "");
}

describe("a terminal whose relay restarts mid-session", { skip: noTmux }, () => {
  let relay: RelayProcess;
  let agent: AgentProcess;
  let tmux: Tmux;
  let scratch: string;
  let log: string;

  before(async () => {
    relay = await startRelay();
    const workspace = await relay.createWorkspace("resume");
    agent = await startAgent(relay.url, workspace.enroll_token, {
      hostname: "web-1",
      extraArgs: ["--resume-grace", "2m"],
    });
    const env = await clientEnv(relay.url, workspace.api_key);
    scratch = await Deno.makeTempDir({ prefix: "cmdop-e2e-resume-" });
    log = `${scratch}/pane.log`;
    tmux = await cmdopTerminal(scratch, env);
    await tmux.run(["pipe-pane", "-t", "0", `cat >> ${log}`]);
  });

  after(async () => {
    await tmux?.kill();
    await killAll();
    if (scratch) await Deno.remove(scratch, { recursive: true });
  });

  it("keeps the shell, sends the output made meanwhile once and in order, and the keys typed while it was down", async () => {
    await tmux.type("cmdop connect web-1; echo EX''IT=$?");
    await tmux.waitFor(/attached to "web-1"/);
    await tmux.type("echo PID=$$");
    const pid = Number(/PID=(\d+)/.exec(await tmux.waitFor(/PID=\d+/))![1]);

    // 120 numbered lines over 12 s: some before the relay dies, most while it is down.
    await tmux.type("for i in $(seq 1 120); do echo tick-$i; sleep 0.1; done");
    await tmux.waitFor(/tick-10\b/);
    const url = new URL(relay.url);
    await relay.kill();
    await tmux.waitFor(/connection to "web-1" lost/, 30_000);
    // Typed while nothing carries it: bash reads it once the loop is done.
    await tmux.type("echo held-$((6*7))");
    relay = await startRelay({ dataDir: relay.dataDir, listen: `${url.hostname}:${url.port}` });
    await waitFor(
      "the agent back on the restarted relay",
      () => agent.stderr().split("online as machine").length > 2,
      60_000,
    );

    const screen = await tmux.waitFor(/^held-42\s*$/m, 60_000);
    assert.doesNotMatch(screen, /reconnecting/, "the notice is wiped once resumed");
    assert.ok(await processAlive(pid), `the remote shell ${pid} lives on`);

    const ticks = [...(await paneLog(log)).matchAll(/tick-(\d+)\r+\n/g)].map((m) => Number(m[1]));
    assert.deepEqual(
      ticks,
      Array.from({ length: 120 }, (_, i) => i + 1),
      "every line once, in order",
    );
    const held = (await paneLog(log)).match(/\rheld-42\r+\n/g) ?? [];
    assert.equal(held.length, 1, "the keys typed while down ran once");

    await tmux.type("exit 3");
    await tmux.waitFor(/EXIT=3/);
  });
});
