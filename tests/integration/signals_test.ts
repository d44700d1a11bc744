/** A real SIGTERM to the CLI mid-session: it exits 143 and the remote command is hung up, for exec and for a piped attach. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import { cliUnderScript, scriptArgs } from "./_interrupts.ts";
import {
  clientEnv,
  killAll,
  MAIN,
  processAlive,
  spawnCli,
  startAgent,
  startRelay,
  waitFor,
} from "../_harness.ts";

/** The CLI's grace after SIGINT or SIGTERM is 5 s; a hung CLI lasts forever. */
const GRACE_BOUND_MS = 20_000;

/** Whether the pipe on `pid`'s stdout is full (Linux: the process waits in pipe_write). */
async function pipeFull(pid: number): Promise<boolean> {
  const wchan = await Deno.readTextFile(`/proc/${pid}/wchan`).catch(() => "");
  const tasks = [...Deno.readDirSync(`/proc/${pid}/task`)].map((t) => t.name);
  const waits = await Promise.all(
    tasks.map((t) => Deno.readTextFile(`/proc/${pid}/task/${t}/wchan`).catch(() => "")),
  );
  return [wchan, ...waits].some((w) => w.includes("pipe_w"));
}

/** The exit code, or a failure when the process is still running after `ms` (then it is killed). */
async function exitWithin(child: Deno.ChildProcess, ms: number): Promise<number> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((r) => timer = setTimeout(() => r("late"), ms));
  const result = await Promise.race([child.status.then((s) => s.code), late]);
  clearTimeout(timer);
  if (result === "late") {
    child.kill("SIGKILL");
    await child.status;
    assert.fail(`still running ${ms / 1000} s after SIGTERM`);
  }
  return result;
}

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

  it("exec exits 143 within its grace even when nothing reads its output", async () => {
    // stdout is a pipe nobody reads: the CLI's own write to it blocks for good.
    const child = spawnCli(["connect", "exec", "term-box", "--", "cat", "/dev/zero"], env);
    const stderr = new Response(child.stderr).text();
    await waitFor("the output pipe to fill", () => pipeFull(child.pid), 30_000);
    child.kill("SIGTERM");
    assert.equal(await exitWithin(child, GRACE_BOUND_MS), 143, await Promise.race([stderr, ""]));
    await child.stdout.cancel().catch(() => {});
  });

  it("a terminal attach exits 143 within its grace even when its terminal is not read", async () => {
    // `script` gives the CLI a terminal; stopped, it reads none of it, and the CLI's writes block.
    const script = new Deno.Command("script", {
      args: scriptArgs([Deno.execPath(), "run", "-A", "--quiet", MAIN, "connect", "term-box"]),
      env: { NO_COLOR: "1", ...env },
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const writer = script.stdin.getWriter();
    await writer.write(new TextEncoder().encode("exec cat /dev/zero\n"));
    const cli = await cliUnderScript(script.pid);
    let seen = 0;
    const reading = (async () => {
      for await (const chunk of script.stdout) {
        seen += chunk.length;
        if (seen > 1_000_000) break; // streaming: stop reading from here on
      }
    })().catch(() => {});
    await reading;
    Deno.kill(script.pid, "SIGSTOP");
    await new Promise((r) => setTimeout(r, 1_000)); // the terminal's buffer fills
    Deno.kill(cli, "SIGTERM");
    try {
      await waitFor("the CLI to exit", async () => !(await processAlive(cli)), GRACE_BOUND_MS);
    } finally {
      Deno.kill(script.pid, "SIGKILL");
      await script.status;
      await writer.close().catch(() => {});
    }
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
