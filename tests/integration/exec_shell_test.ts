/** `cmdop connect exec` as an ssh user types it: `--` hints, `--shell`, one JSON envelope always, SIGTERM's exit status. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import {
  clientEnv,
  killAll,
  runCmdop,
  spawnCli,
  startAgent,
  startRelay,
  waitFor,
} from "../_harness.ts";

let env: Record<string, string>;

/** The keys of the spec's exec envelope, in its order. */
const ENVELOPE = ["stdout", "stderr", "exit_code", "duration_ms"];

describe("cmdop connect exec, as ssh users type it", () => {
  before(async () => {
    const relay = await startRelay();
    const ws = await relay.createWorkspace("shell");
    env = await clientEnv(relay.url, ws.api_key);
    await startAgent(relay.url, ws.enroll_token, { hostname: "box" });
  });
  after(killAll);

  it("hints where -- goes when the remote command's option reaches cmdop", async () => {
    const r = await runCmdop(["connect", "exec", "box", "uname", "-a"], { env });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /error: unknown option '-a'/);
    assert.match(r.stderr, /hint: .*put -- before it:\n {2}cmdop connect exec box -- uname -a\n/);
  });

  it("hints --shell when a shell command line is run as argv", async () => {
    const r = await runCmdop(["connect", "exec", "box", "--", "echo $HOME"], { env });
    assert.equal(r.code, 127);
    assert.match(r.stderr, /command not found: echo \$HOME/);
    assert.match(r.stderr, /hint: .*not through a shell.*add --shell/);
  });

  it("runs the words as one sh -c line with --shell, so pipes and variables work", async () => {
    const r = await runCmdop(
      ["connect", "exec", "box", "--shell", "--", "x=ab; echo $x | tr a-z A-Z;", "exit 4"],
      { env },
    );
    assert.equal(r.stdout, "AB\n", r.stderr);
    assert.equal(r.code, 4);
    // Through the command tree too (an option it must parse after the host).
    const tree = await runCmdop(
      ["connect", "exec", "box", "--shell", "--timeout", "10", "-q", "--", "echo a|wc -c"],
      { env },
    );
    assert.equal(tree.stdout.trim(), "2", tree.stderr);
  });

  it("prints the spec's envelope for a command that is not found", async () => {
    const r = await runCmdop(["connect", "exec", "box", "--json", "--", "no-such-cmd-xyz"], {
      env,
    });
    assert.equal(r.code, 127);
    const envelope = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(envelope), [...ENVELOPE, "error"]);
    assert.equal(envelope.exit_code, 127);
    assert.equal(envelope.stdout, "");
    assert.equal(typeof envelope.duration_ms, "number");
    assert.match(envelope.error, /command not found: no-such-cmd-xyz/);
  });

  it("prints the spec's envelope when the machine cannot be resolved", async () => {
    const r = await runCmdop(["connect", "exec", "nope", "--json", "--", "true"], { env });
    assert.equal(r.code, 1);
    const envelope = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(envelope), [...ENVELOPE, "error"]);
    assert.match(envelope.error, /no machine matches "nope"/);
  });

  it("exits 143 when SIGTERM ends it, as a shell reports a command killed by SIGTERM", async () => {
    const child = spawnCli(
      ["connect", "exec", "box", "--", "sh", "-c", "echo started; sleep 60"],
      env,
    );
    let out = "";
    const reading = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of child.stdout) out += decoder.decode(chunk, { stream: true });
    })();
    await waitFor("the remote command to start", () => out.includes("started"), 30_000);
    child.kill("SIGTERM");
    const status = await child.status;
    await reading;
    await child.stderr.cancel();
    assert.equal(status.code, 143);
  });
});
