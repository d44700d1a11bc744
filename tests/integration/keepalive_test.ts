/** Sessions and control streams outlive a proxy that cuts idle connections: haproxy (mode http) with 30 s idle timeouts in front of the relay. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import {
  type AgentProcess,
  clientEnv,
  killAll,
  runCmdop,
  startAgent,
  startRelay,
  streamCli,
  waitFor,
} from "../_harness.ts";
import { type ServiceProcess, startHaproxy } from "../cluster/_services.ts";
import { needTools } from "../_tools.ts";

/** How long the session stays idle behind the proxy; 120 s unless `CMDOP_TEST_IDLE_SECONDS` says. */
const IDLE_SECONDS = Number(Deno.env.get("CMDOP_TEST_IDLE_SECONDS") ?? "120");
/** The proxy's idle timeout, as Debian's defaults (50 s) and common NATs cut, a bit lower. */
const PROXY_IDLE = "30s";

const missing = await needTools("keepalive behind haproxy", ["haproxy"]);

describe("keepalive behind a proxy with a 30 s idle timeout", { skip: missing }, () => {
  let lb: ServiceProcess;
  let env: Record<string, string>;
  let agent: AgentProcess;

  before(async () => {
    const relay = await startRelay();
    const ws = await relay.createWorkspace("acme");
    lb = await startHaproxy([Number(new URL(relay.url).port)], {
      mode: "http",
      idleTimeout: PROXY_IDLE,
    });
    env = await clientEnv(lb.url, ws.api_key);
    agent = await startAgent(lb.url, ws.enroll_token, { hostname: "web-1" });
  });

  after(async () => {
    await lb?.stop();
    await killAll();
  });

  it(`keeps an attach idle for ${IDLE_SECONDS} s alive, and the agent's control stream with it`, {
    timeoutMs: (IDLE_SECONDS + 120) * 1000,
  }, async () => {
    const cli = streamCli(["connect", "web-1"], env);
    await cli.write("echo ready\n");
    await waitFor("the shell to answer", () => cli.stdout().includes("ready"), 20_000);
    const agentLog = agent.stderr().length;
    let exited: number | undefined;
    cli.status.then((code) => exited = code);
    await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
    assert.equal(exited, undefined, `the idle session ended: ${cli.stderr()}`);
    await cli.write("echo still-here\n");
    await waitFor("the shell to answer after the idle time", () => {
      if (exited !== undefined) throw new Error(`the session ended: ${cli.stderr()}`);
      return cli.stdout().includes("still-here");
    }, 20_000);
    await cli.write("exit 5\n");
    assert.equal(await cli.status, 5, cli.stderr());
    // The control stream stayed up all along: no reconnect, and a new session still opens.
    assert.doesNotMatch(agent.stderr().slice(agentLog), /lost|cannot/);
    const r = await runCmdop(["connect", "exec", "web-1", "--", "echo", "hi"], { env });
    assert.equal(r.stdout, "hi\n", r.stderr);
  });
});
