/** `cmdop connect exec` across its relay's restart: the command runs on, its output arrives once and in order, its stdin and exit status too. */
import { after, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import {
  clientEnv,
  killAll,
  processAlive,
  startAgent,
  startRelay,
  streamCli,
  waitFor,
} from "../_harness.ts";

describe("an exec whose relay restarts mid-command", () => {
  after(killAll);

  it("is resumed: every line once and in order, stdin given while down, and the exit status", async () => {
    let relay = await startRelay();
    const ws = await relay.createWorkspace("exec-resume");
    const agent = await startAgent(relay.url, ws.enroll_token, {
      hostname: "web-1",
      extraArgs: ["--resume-grace", "2m"],
    });
    const env = await clientEnv(relay.url, ws.api_key);
    // 60 numbered lines over 6 s, some on stderr; then what stdin brings; then exit 3.
    const script = "echo PID=$$; for i in $(seq 1 60); do echo tick-$i; " +
      "[ $((i % 10)) = 0 ] && echo err-$i >&2; sleep 0.1; done; cat; exit 3";
    const cli = streamCli(
      ["connect", "exec", "web-1", "--timeout", "0", "--", "sh", "-c", script],
      env,
    );
    await waitFor("tick-5", () => /tick-5\n/.test(cli.stdout()), 30_000);
    const pid = Number(/PID=(\d+)/.exec(cli.stdout())![1]);

    const url = new URL(relay.url);
    await relay.kill();
    await waitFor("the client to notice", () => /connection to "web-1" lost/.test(cli.stderr()));
    // Given while nothing carries it: held, and sent once the command is resumed.
    await cli.write("typed-while-down\n");
    await cli.endInput();
    relay = await startRelay({ dataDir: relay.dataDir, listen: `${url.hostname}:${url.port}` });
    await waitFor(
      "the agent back on the restarted relay",
      () => agent.stderr().split("online as machine").length > 2,
      60_000,
    );

    const code = await cli.status;
    const stderr = cli.stderr();
    assert.equal(code, 3, stderr);
    assert.match(stderr, /resumed the command on "web-1"/);
    const ticks = [...cli.stdout().matchAll(/tick-(\d+)\n/g)].map((m) => Number(m[1]));
    assert.deepEqual(ticks, Array.from({ length: 60 }, (_, i) => i + 1), "every line once");
    const errs = [...stderr.matchAll(/err-(\d+)\n/g)].map((m) => Number(m[1]));
    assert.deepEqual(errs, [10, 20, 30, 40, 50, 60], "stderr apart, every line once");
    assert.ok(cli.stdout().endsWith("tick-60\ntyped-while-down\n"), cli.stdout());
    assert.equal(await processAlive(pid), false, "the command is gone once it exited");
  });
});
