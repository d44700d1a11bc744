/** A bug that lets an error escape (an unobserved rejection, an uncaught exception) is logged loudly and the relay and agent keep serving. */
import { after, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  clientEnv,
  createWorkspace,
  killAll,
  MAIN,
  processAlive,
  runCmdop,
  waitFor,
} from "../_harness.ts";

const PRELOAD = fileURLToPath(new URL("./_unobserved_on_signal.ts", import.meta.url));

/** Runs `cmdop ARGS` with the fault injector preloaded; collects stderr. */
function spawnWithInjector(args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", "--preload", PRELOAD, MAIN, ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let text = "";
  const decoder = new TextDecoder();
  const done = (async () => {
    for await (const chunk of child.stderr) text += decoder.decode(chunk, { stream: true });
  })().catch(() => {});
  return { child, stderr: () => text, done };
}

describe("last-resort handler", { skip: Deno.build.os === "windows" }, () => {
  const started: Deno.ChildProcess[] = [];

  after(async () => {
    for (const child of started) {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status;
    }
    await killAll();
  });

  it("logs an unobserved rejection and an uncaught exception, and the relay and agent keep serving", async () => {
    const dataDir = await Deno.makeTempDir({ prefix: "cmdop-relay-" });
    const relay = spawnWithInjector([
      "relay",
      "serve",
      "--listen",
      "127.0.0.1:0",
      "--data",
      dataDir,
    ]);
    started.push(relay.child);
    await waitFor("the relay to listen", () => /listening on http/.test(relay.stderr()), 30_000);
    const url = /listening on (http\S+)/.exec(relay.stderr())![1];
    const ws = await createWorkspace(dataDir, "bugs");
    const stateDir = await Deno.makeTempDir({ prefix: "cmdop-agent-" });
    const agent = spawnWithInjector([
      "agent",
      "run",
      "--server",
      url,
      "--enroll-token",
      ws.enroll_token,
      "--state",
      stateDir,
      "--hostname",
      "bug-box",
    ]);
    started.push(agent.child);
    await waitFor(
      "the agent to come online",
      () => /online as machine/.test(agent.stderr()),
      30_000,
    );

    for (const [name, process] of [["relay", relay], ["agent", agent]] as const) {
      process.child.kill("SIGUSR2");
      await waitFor(
        `the ${name} to report both escaped errors`,
        () =>
          /BUG: unobserved promise rejection .*deliberately unobserved rejection/.test(
            process.stderr(),
          ) &&
          /BUG: uncaught exception .*deliberately uncaught exception/.test(process.stderr()),
        30_000,
      ).catch((error) => {
        throw new Error(`${error.message}; ${name} stderr:\n${process.stderr()}`);
      });
    }
    assert.ok(await processAlive(relay.child.pid), `relay exited:\n${relay.stderr()}`);
    assert.ok(await processAlive(agent.child.pid), `agent exited:\n${agent.stderr()}`);
    assert.equal(await (await fetch(`${url}/healthz`)).text(), "ok\n");
    const env = await clientEnv(url, ws.api_key);
    const r = await runCmdop(["connect", "exec", "bug-box", "--", "echo", "served"], { env });
    assert.equal(r.stdout, "served\n", r.stderr);
  });
});
