/** End to end: the machine picker in a real terminal (tmux) when keys arrive all at once, as a paste does. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import { clientEnv, killAll, runCmdop, startAgent, startRelay } from "../_harness.ts";
import { needTools } from "../_tools.ts";
import { cmdopTerminal, type Tmux } from "./_tmux.ts";

const noTmux = await needTools("the machine picker", ["tmux"]);

let tmux: Tmux;
let scratch: string;

/** The picker's list: the lines after its question, up to the blank line before the description. */
function pickerList(screen: string): string[] {
  const lines = screen.split("\n");
  const at = lines.findLastIndex((line) => line.includes("Machine (type to filter)"));
  const list = lines.slice(at + 1);
  const end = list.findIndex((line) => line.trim() === "");
  return end < 0 ? list : list.slice(0, end);
}

/** Clears the terminal and waits until only the shell's prompt is left, so no old picker is read. */
async function clearScreen(): Promise<void> {
  await tmux.type("clear");
  await tmux.waitFor((screen) => {
    const lines = screen.split("\n").filter((line) => line.trim() !== "");
    return lines.length === 1 && !lines[0].includes("clear");
  });
}

describe("the machine picker", { skip: noTmux }, () => {
  before(async () => {
    const relay = await startRelay();
    const workspace = await relay.createWorkspace("picker");
    const token = workspace.enroll_token;
    await startAgent(relay.url, token, { hostname: "one-web", displayName: "Web Frontend One" });
    await startAgent(relay.url, token, { hostname: "two-db" });
    await startAgent(relay.url, token, { hostname: "z3", displayName: "Q" });
    const env = await clientEnv(relay.url, workspace.api_key);
    // Every machine listed before the picker is drawn: agents report online asynchronously.
    const listed = await runCmdop(["connect", "--list", "--online", "--json"], { env });
    assert.equal(JSON.parse(listed.stdout).length, 3, listed.stderr);
    scratch = await Deno.makeTempDir({ prefix: "cmdop-e2e-picker-" });
    tmux = await cmdopTerminal(scratch, env);
  });

  after(async () => {
    await tmux?.kill();
    await killAll();
    if (scratch) await Deno.remove(scratch, { recursive: true });
  });

  it("lines up the name, hostname and status columns of every machine", async () => {
    await clearScreen();
    await tmux.type("cmdop connect; echo EX''IT1=$?");
    const screen = await tmux.waitFor((s) => pickerList(s).length >= 3);
    const list = pickerList(screen);
    const status = list.map((line) => line.search(/[●○] (online|offline)/));
    assert.ok(status.every((at) => at > 0), list.join("\n"));
    assert.equal(new Set(status).size, 1, `status columns differ:\n${list.join("\n")}`);
    const hostnames = list.filter((l) => /one-web|z3/.test(l)).map((l) => l.search(/one-web|z3/));
    assert.equal(new Set(hostnames).size, 1, `hostname columns differ:\n${list.join("\n")}`);
    // The arrows move the highlight; the filter text stays as it was.
    assert.match(list[0], /^❯ /);
    await tmux.keys("Down");
    await tmux.waitFor((s) => /^❯ /.test(pickerList(s)[1] ?? ""));
    await tmux.keys("C-c");
    assert.match(await tmux.waitFor(/^EXIT1=\d+\s*$/m), /^EXIT1=130\s*$/m);
  });

  it("selects the first match when Enter arrives together with the filter text", async () => {
    await clearScreen();
    await tmux.type("cmdop connect; echo EX''IT2=$?");
    await tmux.waitFor((s) => pickerList(s).length >= 3);
    // One send-keys: the text and Enter reach cmdop in one read, as a paste does.
    await tmux.keys("two", "Enter");
    const screen = await tmux.waitFor(/Attach\? \(Y\/n\)/);
    assert.match(screen, /hostname +two-db/);
    await tmux.keys("n", "Enter");
    await tmux.waitFor(/filter\)\s*\n/);
    await tmux.keys("C-c");
    assert.match(await tmux.waitFor(/^EXIT2=\d+\s*$/m), /^EXIT2=130\s*$/m);
  });
});
