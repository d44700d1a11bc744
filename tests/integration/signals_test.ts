/** A real SIGTERM to the CLI mid-session: it exits 143 and the remote command is hung up, for exec and for a piped attach. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import {
  clientEnv,
  killAll,
  processAlive,
  spawnCli,
  startAgent,
  startRelay,
  waitFor,
} from "../_harness.ts";

/** Sends SIGTERM once the remote command printed its pid; resolves the CLI's exit code and that pid. */
async function terminateMidSession(
  child: Deno.ChildProcess,
): Promise<{ code: number; pid: number }> {
  let out = "";
  const reading = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stdout) out += decoder.decode(chunk, { stream: true });
  })();
  const stderr = new Response(child.stderr).text();
  await waitFor("the remote command to print its pid", () => /^\d+\n/.test(out));
  const pid = Number(out.trim());
  assert.equal(await processAlive(pid), true, `remote command ${pid} runs`);
  child.kill("SIGTERM");
  const { code } = await child.status;
  await reading;
  assert.equal(await stderr, "", "quiet, as a command killed by a signal");
  return { code, pid };
}

describe("cmdop connect under SIGTERM", () => {
  let env: Record<string, string>;

  before(async () => {
    const relay = await startRelay();
    const ws = await relay.createWorkspace("signals");
    env = await clientEnv(relay.url, ws.api_key);
    await startAgent(relay.url, ws.enroll_token, { hostname: "term-box" });
  });
  after(killAll);

  it("exec exits 143 and the remote command is hung up", async () => {
    const child = spawnCli(
      ["connect", "exec", "term-box", "--", "sh", "-c", "echo $$; exec sleep 300"],
      env,
    );
    const { code, pid } = await terminateMidSession(child);
    assert.equal(code, 143);
    await waitFor(`remote command ${pid} to be hung up`, async () => !(await processAlive(pid)));
  });

  it("a piped attach exits 143 and the remote shell is hung up", async () => {
    const child = spawnCli(["connect", "term-box"], env, { stdin: "piped" });
    const writer = child.stdin.getWriter();
    // The remote login shell reads this line, prints its pid and waits; stdin stays open.
    await writer.write(new TextEncoder().encode("echo $$; exec sleep 300\n"));
    const { code, pid } = await terminateMidSession(child);
    await writer.close().catch(() => {});
    assert.equal(code, 143);
    await waitFor(`remote shell ${pid} to be hung up`, async () => !(await processAlive(pid)));
  });
});
