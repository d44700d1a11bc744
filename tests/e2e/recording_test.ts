/** End to end: a recorded terminal session in a real terminal (tmux), its asciicast file, and cmdop connect replay playing it back there. */
import { after, before, beforeEach, describe, it } from "../_suite.ts";
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
import { needTools } from "../_tools.ts";
import { cmdopTerminal, type Tmux } from "./_tmux.ts";

const noTmux = await needTools("a recorded session in a terminal", ["tmux"]);

let relay: RelayProcess;
let env: Record<string, string>;
let tmux: Tmux;
let scratch: string;

/** Waits until a line below the one holding `marker` is not empty: the remote shell has drawn its prompt. */
function promptBelow(marker: string): (screen: string) => boolean {
  return (screen) => {
    const lines = screen.split("\n");
    const at = lines.findLastIndex((line) => line.includes(marker));
    return at >= 0 && lines.slice(at + 1).some((line) => line.trim() !== "");
  };
}

/** One line of `cmdop connect sessions --json`. */
interface Listed {
  id: string;
  kind: string;
  ended_ms: number | null;
  width: number;
  height: number;
}

describe("a recorded terminal session", { skip: noTmux }, () => {
  beforeEach(() => tmux.respawn());

  before(async () => {
    relay = await startRelay();
    const workspace = await relay.createWorkspace("rec");
    const on = await runCmdop(
      ["relay", "workspace", "recording", "on", "rec", "--data", relay.dataDir],
    );
    assert.equal(on.code, 0, on.stderr);
    await startAgent(relay.url, workspace.enroll_token, { hostname: "tty-box" });
    env = await clientEnv(relay.url, workspace.api_key);
    scratch = await Deno.makeTempDir({ prefix: "cmdop-e2e-recording-" });
    tmux = await cmdopTerminal(scratch, env);
  });

  after(async () => {
    await tmux?.kill();
    await killAll();
    if (scratch) await Deno.remove(scratch, { recursive: true });
  });

  it("is announced, records output and a resize as asciicast v2, and replays in the terminal", {
    timeoutMs: 240_000,
  }, async () => {
    await tmux.type("cmdop connect tty-box; echo EX''IT=$?");
    await tmux.waitFor(/the relay records this session/);
    // Typed only once the remote shell drew its prompt: a shell starting up flushes what came before.
    // The login shell's start-up files may take a minute here (pyenv waits up to 60 s on a rehash
    // lock that another shell holds).
    await tmux.waitFor(promptBelow('attached to "tty-box"'), 90_000);
    await tmux.type("echo TYPED-''IN-THE-SESSION");
    await tmux.waitFor(/^TYPED-IN-THE-SESSION\s*$/m);
    await tmux.resize(100, 30);
    // The remote pty has the new size once stty says so (SIGWINCH travels on its own).
    await tmux.type(
      `for i in $(seq 50); do [ "$(stty size)" = "30 100" ] && break; sleep 0.1; done; ` +
        `echo "SIZE=$(stty size)"`,
    );
    await tmux.waitFor(/^SIZE=30 100\s*$/m);
    await tmux.type("exit 4");
    await tmux.waitFor(/^EXIT=4\s*$/m);

    let listed: Listed | undefined;
    await waitFor("the terminal's recording to be complete", async () => {
      const r = await runCmdop(["connect", "sessions", "--json"], { env });
      listed = r.stdout.split("\n").filter((l) => l).map((l) => JSON.parse(l) as Listed)
        .find((s) => s.kind === "pty" && s.ended_ms);
      return listed !== undefined;
    });
    assert.deepEqual([listed!.width, listed!.height], [120, 40]);

    // The file as stored (stdout a pipe): the header, the typed command's echo and output, the resize.
    const raw = await runCmdop(["connect", "replay", listed!.id], { env });
    assert.equal(raw.code, 0, raw.stderr);
    const [header, ...events] = raw.stdout.split("\n").filter((l) => l).map((l) => JSON.parse(l));
    assert.equal(header.version, 2);
    assert.deepEqual([header.width, header.height], [120, 40]);
    assert.equal(header.env.TERM, "xterm-256color");
    const output = events.filter((e: unknown[]) => e[1] === "o").map((e: unknown[]) => e[2]).join(
      "",
    );
    assert.match(output, /TYPED-IN-THE-SESSION/);
    assert.ok(events.some((e: unknown[]) => e[1] === "r" && e[2] === "100x30"), raw.stdout);
    assert.deepEqual(events.filter((e: unknown[]) => e[1] === "x").map((e: unknown[]) => e[2]), [
      "4",
    ]);
    // Times never go back.
    const times = events.map((e: unknown[]) => e[0] as number);
    assert.deepEqual(times, [...times].sort((a, b) => a - b));

    // Played in the terminal, quickly.
    await tmux.respawn();
    await tmux.type(
      `clear; cmdop connect replay ${listed!.id} --speed 20 --idle-limit 0.2; echo RE''PLAYED=$?`,
    );
    const screen = await tmux.waitFor(/^REPLAYED=0\s*$/m);
    assert.match(screen, /TYPED-IN-THE-SESSION/);
    assert.match(screen, /end of recording .* \(exit status 4\)/);
  });
});
