/** End to end: `cmdop connect` in a real terminal (tmux) against a real relay and agents, keys in and screen out. */
import { after, before, beforeEach, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import {
  type AgentProcess,
  clientEnv,
  killAll,
  MACHINE_VARIABLE,
  type RelayProcess,
  runCmdop,
  startAgent,
  startRelay,
  waitFor,
  waitMachineOnline,
} from "../_harness.ts";
import { needTools } from "../_tools.ts";
import { cmdopTerminal, type Tmux } from "./_tmux.ts";

/** Each agent passes it to its sessions, so a shell can tell which machine it runs on. */
const AGENT_VARIABLE = MACHINE_VARIABLE;
const noTmux = await needTools("cmdop connect in a terminal", ["tmux"]);

let relay: RelayProcess;
let env: Record<string, string>;
let tmux: Tmux;
let scratch: string;

async function agent(
  hostname: string,
  displayName?: string,
  password?: string,
): Promise<AgentProcess> {
  return await startAgent(relay.url, enrollToken, { hostname, displayName, password });
}
let enrollToken: string;

/** Waits until a line below the one holding `marker` is not empty: the remote shell has drawn its prompt. */
function promptBelow(marker: string): (screen: string) => boolean {
  return (screen) => {
    const lines = screen.split("\n");
    const at = lines.findLastIndex((line) => line.includes(marker));
    return at >= 0 && lines.slice(at + 1).some((line) => line.trim() !== "");
  };
}

/**
 * A remote command line printing `label=ROWS COLS` once the remote pty has the
 * wanted size: SIGWINCH reaches cmdop independently of the keys typed after
 * the resize, so the command itself may run first.
 */
function remoteSize(label: string, rows: number, cols: number): string {
  return `for i in $(seq 50); do [ "$(stty size)" = "${rows} ${cols}" ] && break; sleep 0.1; done; ` +
    `echo "${label}=$(stty size)"`;
}

/** The picker's list: the lines after its question, up to the blank line before the description. */
function pickerList(screen: string): string[] {
  const lines = screen.split("\n");
  const at = lines.findLastIndex((line) => line.includes("Machine (type to filter)"));
  const list = lines.slice(at + 1);
  const end = list.findIndex((line) => line.trim() === "");
  return end < 0 ? list : list.slice(0, end);
}

/**
 * The picker is on screen with every row matching one of `rows` and its first row matching
 * `first`: it draws its heading first and its list a few milliseconds later, so a test waits
 * for the list it asserts, never for the heading.
 */
function pickerShows(rows: RegExp[], first?: RegExp): (screen: string) => boolean {
  return (screen) => {
    if (!screen.includes("Machine (type to filter)")) return false;
    const list = pickerList(screen);
    return rows.every((row) => list.some((line) => row.test(line))) &&
      (!first || (list.length > 0 && first.test(list[0])));
  };
}

/** Whether a live (not zombie) process has this id; the agents run on this machine. */
async function processExists(pid: number): Promise<boolean> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

describe("cmdop connect in a terminal", { skip: noTmux }, () => {
  // A fresh shell on a blank screen for each test: what a failed test left running in the
  // pane (a picker, a remote shell) must not take the next test's keys.
  beforeEach(() => tmux.respawn());

  before(async () => {
    relay = await startRelay();
    const workspace = await relay.createWorkspace("attach");
    enrollToken = workspace.enroll_token;
    await agent("alpha-web", "Alpha Web");
    await agent("alpha-api");
    await agent("bravo-db");
    await agent("echo-locked", undefined, "open sesame");
    const old = await agent("charlie-old");
    await old.stop();
    await waitMachineOnline(relay.url, workspace.api_key, "charlie-old", false);
    env = await clientEnv(relay.url, workspace.api_key);
    scratch = await Deno.makeTempDir({ prefix: "cmdop-e2e-attach-" });
    tmux = await cmdopTerminal(scratch, env);
  });

  after(async () => {
    await tmux?.kill();
    await killAll();
    if (scratch) await Deno.remove(scratch, { recursive: true });
  });

  it("attaches by hostname on a pty of the window's size, follows resizes, forwards Ctrl-C and exits with the remote status", async () => {
    await tmux.type(
      `stty -a > ${scratch}/before1; cmdop connect bravo-db; echo EX''IT1=$?; stty -a > ${scratch}/after1`,
    );
    await tmux.waitFor(promptBelow('attached to "bravo-db"'));
    await tmux.type(`tty; echo "agent=$${AGENT_VARIABLE}"; echo "SIZE1=$(stty size)"`);
    await tmux.waitFor(/\/dev\/pts\/\d+\s+agent=bravo-db\s+SIZE1=40 120\s/);

    await tmux.resize(100, 30);
    assert.deepEqual(await tmux.size(), { rows: 30, cols: 100 });
    await tmux.type(remoteSize("SIZE2", 30, 100));
    await tmux.waitFor(/^SIZE2=30 100\s*$/m);

    await tmux.type("echo SLEE''PING; sleep 100");
    await tmux.waitFor(/^SLEEPING\s*$/m);
    const interrupted = Date.now();
    await tmux.keys("C-c");
    await tmux.type("echo R''C=$?");
    await tmux.waitFor(/^RC=130\s*$/m);
    assert.ok(Date.now() - interrupted < 10_000, "Ctrl-C ended the remote sleep");

    // Back to the first size, so that the local terminal's settings compare whole.
    await tmux.resize(120, 40);
    await tmux.type(remoteSize("SIZE3", 40, 120));
    await tmux.waitFor(/^SIZE3=40 120\s*$/m);
    await tmux.type("exit 7");
    const screen = await tmux.waitFor(/^EXIT1=\d+\s*$/m);
    assert.match(screen, /^EXIT1=7\s*$/m);
    assert.match(screen, /connection to "bravo-db" closed \(exit status 7\)/);
    await tmux.type("echo DO''NE1");
    await tmux.waitFor(/^DONE1\s*$/m);
    assert.equal(
      await Deno.readTextFile(`${scratch}/after1`),
      await Deno.readTextFile(`${scratch}/before1`),
    );
  });

  it("keeps a full-screen program's bare line feeds from returning to column 0", async () => {
    await tmux.type("cmdop connect bravo-db; echo EX''IT2=$?");
    await tmux.waitFor(promptBelow('attached to "bravo-db"'));
    // As curses programs do: output processing off on the remote pty, then "\n" means straight down.
    await tmux.type(`stty -opost; printf 'ab\\ncd\\r\\n'; stty opost; exit 0`);
    const screen = await tmux.waitFor(/^EXIT2=0\s*$/m);
    assert.match(screen, /^ab\n {2}cd\s*$/m);
  });

  it("filters the picker as you type, attaches to the chosen machine and comes back to the picker", async () => {
    await tmux.type(
      `stty -a > ${scratch}/before3; cmdop connect; echo EX''IT3=$?; stty -a > ${scratch}/after3`,
    );
    let screen = await tmux.waitFor(pickerShows([
      /Alpha Web +alpha-web +● online/,
      /bravo-db +● online/,
      /charlie-old +○ offline/,
    ]));
    assert.equal(pickerList(screen).length, 5, screen);

    await tmux.run(["send-keys", "-t", "0", "-l", "bra"]);
    await tmux.waitFor((s) =>
      s.includes("filter) bra") && pickerShows([], /bravo-db/)(s) &&
      !pickerList(s).join().includes("alpha")
    );
    await tmux.keys("Enter");
    // The machine's details are drawn with the question: wait for all that is asserted.
    await tmux.waitFor((s) =>
      /Attach\? \(Y\/n\)/.test(s) && /hostname +bravo-db/.test(s) && /status +● online/.test(s) &&
      /last heartbeat +\d+s ago/.test(s)
    );
    await tmux.keys("Enter");
    await tmux.waitFor(promptBelow('attached to "bravo-db"'));
    await tmux.type(`echo "agent=$${AGENT_VARIABLE} shell=$$"`);
    const [, shell] = (await tmux.waitFor(/^agent=bravo-db shell=\d+\s*$/m)).match(/shell=(\d+)/)!;

    // Ctrl-D is not sent: the picker comes back, the machine just used now first, and the remote shell is gone.
    await tmux.keys("C-d");
    screen = await tmux.waitFor((s) =>
      /disconnected from "bravo-db"/.test(s) && /filter\)\s*\n/.test(s) &&
      pickerShows([/alpha-web/, /charlie-old/], /bravo-db/)(s)
    );
    // The client gives the remote end up to 2 s to exit, and the agent then ends its group.
    await waitFor(
      `the remote shell (pid ${shell}) to be hung up`,
      async () => !(await processExists(Number(shell))),
    );

    // A remote exit also comes back to the picker.
    await tmux.run(["send-keys", "-t", "0", "-l", "alpha-web"]);
    await tmux.waitFor((s) => s.includes("filter) alpha-web") && /^❯ Alpha Web/m.test(s));
    await tmux.keys("Enter");
    await tmux.waitFor(/hostname +alpha-web[\s\S]*Attach\? \(Y\/n\)/);
    await tmux.keys("Enter");
    await tmux.waitFor(promptBelow('attached to "alpha-web"'));
    await tmux.type(`echo "agent=$${AGENT_VARIABLE}"; exit 5`);
    screen = await tmux.waitFor((s) =>
      /exit status 5\)/.test(s) && pickerShows([/bravo-db/, /charlie-old/], /alpha-web/)(s)
    );
    assert.match(screen, /^agent=alpha-web\s*$/m);

    await tmux.keys("C-c");
    screen = await tmux.waitFor(/^EXIT3=\d+\s*$/m);
    assert.match(screen, /^EXIT3=130\s*$/m);
    await tmux.type("echo DO''NE3");
    await tmux.waitFor(/^DONE3\s*$/m);
    assert.equal(
      await Deno.readTextFile(`${scratch}/after3`),
      await Deno.readTextFile(`${scratch}/before3`),
    );
  });

  it("asks for a protected machine's password, unechoed, then attaches", async () => {
    await tmux.type("cmdop connect echo-locked; echo EX''IT6=$?");
    await tmux.waitFor(/Password for echo-locked:/);
    await tmux.type("open sesame");
    await tmux.waitFor(promptBelow('attached to "echo-locked"'));
    await tmux.type(`echo "agent=$${AGENT_VARIABLE}"; exit 4`);
    const screen = await tmux.waitFor(/^EXIT6=\d+\s*$/m);
    assert.match(screen, /^EXIT6=4\s*$/m);
    assert.match(screen, /^agent=echo-locked\s*$/m);
    assert.doesNotMatch(screen, /open sesame/);
  });

  it("resolves hostnames as exec does: an ambiguous prefix exits 4, an offline machine 3", async () => {
    await tmux.type("cmdop connect alpha; echo EX''IT4=$?");
    let screen = await tmux.waitFor(/^EXIT4=\d+\s*$/m);
    assert.match(screen, /^EXIT4=4\s*$/m);
    assert.match(screen, /alpha-web/);
    assert.match(screen, /alpha-api/);
    await tmux.type("cmdop terminal charlie-old; echo EX''IT5=$?");
    screen = await tmux.waitFor(/^EXIT5=\d+\s*$/m);
    assert.match(screen, /^EXIT5=3\s*$/m);
    assert.match(screen, /"charlie-old".*offline/);
  });
});

describe("cmdop connect without a terminal", () => {
  let apiEnv: Record<string, string>;
  before(async () => {
    relay = await startRelay();
    const workspace = await relay.createWorkspace("piped");
    enrollToken = workspace.enroll_token;
    await agent("delta-box");
    apiEnv = await clientEnv(relay.url, workspace.api_key);
  });
  after(killAll);

  it("pipes stdin to the remote login shell like ssh -T and exits with its status", async () => {
    const result = await runCmdop(["connect", "delta-box"], {
      env: apiEnv,
      stdin: `echo "agent=$${AGENT_VARIABLE}"; tty; echo oops >&2; exit 3\n`,
    });
    assert.equal(result.code, 3, result.stderr);
    assert.equal(result.stdout, "agent=delta-box\nnot a tty\n");
    assert.equal(result.stderr, "oops\n");
  });

  it("refuses to open the picker without a terminal or with --no-interactive (exit 1)", async () => {
    const piped = await runCmdop(["connect"], { env: apiEnv, stdin: "" });
    assert.equal(piped.code, 1);
    assert.match(piped.stderr, /no machine given, and the picker needs a terminal/);
    const never = await runCmdop(["terminal", "--no-interactive"], { env: apiEnv });
    assert.equal(never.code, 1);
    assert.match(never.stderr, /no machine given, and --no-interactive rules out the picker/);
  });
});
