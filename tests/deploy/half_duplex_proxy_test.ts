/** Sessions through a proxy that carries no full-duplex stream (nginx buffering request bodies): exec and a terminal fall back to half duplex, saying so once. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  clientEnv,
  killAll,
  MAIN,
  type RelayProcess,
  runCmdop,
  spawnCli,
  startAgent,
  startRelay,
  waitMachineOnline,
  type Workspace,
} from "../_harness.ts";
import { makeCertificates } from "../_tls.ts";
import { startInTmux } from "../cluster/_tmux.ts";
import { needTools } from "../_tools.ts";
import { type ProxyProcess, startBufferingNginx } from "./_proxies.ts";

const skip = await needTools("a buffering reverse proxy", ["nginx", "openssl", "tmux"]);
const NOTE =
  /note: the path to https:\/\/127\.0\.0\.1:\d+ does not carry full-duplex streams \(a buffering proxy\?\); using server-streaming output with input calls\n/g;

describe("sessions through nginx with proxy_request_buffering on", { skip }, () => {
  let certs: string;
  let relay: RelayProcess;
  let ws: Workspace;
  let nginx: ProxyProcess;
  let env: Record<string, string>;

  before(async () => {
    certs = await Deno.makeTempDir({ prefix: "cmdop-certs-" });
    await makeCertificates(certs);
    relay = await startRelay();
    ws = await relay.createWorkspace("buffered");
    nginx = await startBufferingNginx(Number(new URL(relay.url).port), certs);
    env = { ...(await clientEnv(nginx.url, ws.api_key)), CMDOP_CA_FILE: join(certs, "ca.pem") };
    // The agent's own streams are full-duplex: it reaches the relay directly.
    await startAgent(relay.url, ws.enroll_token, { hostname: "behind" });
    await waitMachineOnline(relay.url, ws.api_key, "behind", true);
  });
  after(async () => {
    await killAll();
    await nginx?.stop();
    await Deno.remove(certs, { recursive: true }).catch(() => {});
  });

  it("exec falls back by itself: stdin piped through, output and exit code intact, the note once", async () => {
    const input = "through the buffer\n".repeat(10_000);
    const startedMs = performance.now();
    const r = await runCmdop(
      ["connect", "exec", "behind", "--", "sh", "-c", "cat; echo to-stderr >&2; exit 5"],
      { env, stdin: input },
    );
    const ms = performance.now() - startedMs;
    assert.equal(r.code, 5, `${r.stderr}\nnginx:\n${nginx.log()}`);
    assert.equal(r.stdout, input);
    assert.equal(r.stderr.match(NOTE)?.length, 1, r.stderr);
    assert.equal(r.stderr.replace(NOTE, ""), "to-stderr\n");
    // The probe waits 5 s for the full-duplex stream, then the session itself.
    assert.ok(ms < 30_000, `exec took ${Math.round(ms)} ms`);
  });

  it("CMDOP_TRANSPORT=half goes half-duplex at once, with no note", async () => {
    const startedMs = performance.now();
    const r = await runCmdop(["connect", "exec", "behind", "--", "sh", "-c", "cat; exit 9"], {
      env: { ...env, CMDOP_TRANSPORT: "half" },
      stdin: "half at once\n",
    });
    const ms = performance.now() - startedMs;
    assert.equal(r.code, 9, r.stderr);
    assert.equal(r.stdout, "half at once\n");
    assert.equal(r.stderr, "");
    assert.ok(ms < 5_000, `exec took ${Math.round(ms)} ms: it waited for a probe`);
  });

  it("CMDOP_TRANSPORT=duplex gets nothing through it (the path really holds the stream)", async () => {
    const child = spawnCli(["connect", "exec", "behind", "--", "echo", "never"], {
      ...env,
      CMDOP_TRANSPORT: "duplex",
    });
    const stdout = new Response(child.stdout).text();
    const stderr = new Response(child.stderr).text();
    const timer = setTimeout(() => child.kill("SIGKILL"), 8_000);
    await child.status;
    clearTimeout(timer);
    assert.equal(await stdout, "");
    assert.doesNotMatch(await stderr, /note:/);
  });

  it("a terminal attach works through it in tmux: the note once, echo, Ctrl-C, exit status", async () => {
    const pane = await startInTmux(
      [Deno.execPath(), "run", "-A", "--quiet", MAIN, "connect", "behind"],
      { ...env, NO_COLOR: "1", TERM: "xterm-256color", PS1: "$ " },
    );
    try {
      // The note wraps at the pane's 120 columns.
      const screen = await pane.waitForScreen(
        /note: the path to \S+ does not carry full-duplex/,
        60_000,
      );
      // Typed once the remote shell drew its prompt: a shell starting up flushes what came before.
      await pane.waitForScreen(/attached to "behind"[^]*\n.*[#$] *$/m, 60_000);
      await pane.sendKeys("echo $((6 * 7))-typed", "Enter");
      const after = await pane.waitForScreen(/^42-typed\s*$/m, 30_000);
      assert.equal(after.match(/note: the path/g)?.length, 1, screen);
      // Ctrl-C reaches the remote shell's foreground job through an input call too.
      await pane.sendKeys("sleep 100", "Enter");
      await new Promise((r) => setTimeout(r, 500));
      await pane.sendKeys("C-c");
      await pane.sendKeys("echo $((6 * 8))-after", "Enter");
      await pane.waitForScreen(/^48-after\s*$/m, 30_000);
      await pane.sendKeys("exit 4", "Enter");
      assert.equal(await pane.exitStatus(30_000), 4);
    } finally {
      await pane.kill();
    }
  });
});
