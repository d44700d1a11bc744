/** The relay lets go of a session's connections when the session is over (Linux: counted in /proc). */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import {
  clientEnv,
  killAll,
  type RelayProcess,
  runCmdop,
  startAgent,
  startRelay,
  waitFor,
} from "../_harness.ts";

function openSockets(pid: number): number {
  return [...Deno.readDirSync(`/proc/${pid}/fd`)].filter((fd) => {
    try {
      return Deno.readLinkSync(`/proc/${pid}/fd/${fd.name}`).startsWith("socket:");
    } catch {
      return false; // closed meanwhile
    }
  }).length;
}

describe("relay connections", { skip: Deno.build.os !== "linux" }, () => {
  let relay: RelayProcess;
  let env: Record<string, string>;

  before(async () => {
    relay = await startRelay();
    const ws = await relay.createWorkspace("sockets");
    env = await clientEnv(relay.url, ws.api_key);
    await startAgent(relay.url, ws.enroll_token, { hostname: "sock-box" });
  });

  after(async () => {
    await killAll();
  });

  it("closes both ends of finished exec sessions instead of keeping them half-closed", async () => {
    // The baseline before any session: the listener and the agent's control stream.
    const settled = openSockets(relay.pid);
    for (let i = 0; i < 10; i++) {
      const r = await runCmdop(["connect", "exec", "sock-box", "--", "echo", "x"], { env });
      assert.equal(r.code, 0);
    }
    // Each exec used a client connection and an agent dial-back; none may stay open.
    await waitFor("the relay to close finished sessions", () => openSockets(relay.pid) <= settled);
  });
});
