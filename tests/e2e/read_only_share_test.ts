/** End to end: a read-only share link watches its owner's terminal (two real terminals in tmux) and can do nothing else. */
import { after, before, beforeEach, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import {
  clientEnv,
  killAll,
  MAIN,
  type RelayProcess,
  runCmdop,
  startAgent,
  startRelay,
  streamCli,
  waitFor,
  type Workspace,
} from "../_harness.ts";
import { needTools } from "../_tools.ts";
import { Tmux } from "./_tmux.ts";

const noTmux = await needTools("read-only share links in a terminal", ["tmux"]);

describe("cmdop connect share --read-only", { skip: noTmux }, () => {
  let relay: RelayProcess;
  let acme: Workspace;
  let other: Workspace;
  let env: Record<string, string>;
  let scratch: string;
  /** The link's owner's terminal and a viewer's, each a tmux server of its own. */
  let owner: Tmux;
  let viewer: Tmux;
  let linkFile: string;
  let fullLinkFile: string;
  let viewerEnv: Record<string, string>;

  before(async () => {
    relay = await startRelay();
    acme = await relay.createWorkspace("acme");
    other = await relay.createWorkspace("other");
    env = await clientEnv(relay.url, acme.api_key);
    await startAgent(relay.url, acme.enroll_token, { hostname: "watched-box" });
    await startAgent(relay.url, other.enroll_token, { hostname: "other-box" });
    scratch = await Deno.makeTempDir({ prefix: "cmdop-e2e-readonly-" });
    await Deno.mkdir(`${scratch}/bin`);
    await Deno.writeTextFile(
      `${scratch}/bin/cmdop`,
      `#!/bin/sh\nexec "${Deno.execPath()}" run -A --quiet "${MAIN}" "$@"\n`,
      { mode: 0o755 },
    );
    const made = await runCmdop(
      ["connect", "share", "watched-box", "--read-only", "--ttl", "2h"],
      { env },
    );
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stderr, /read-only: it watches the terminal you open with cmdop connect/);
    linkFile = `${scratch}/link.txt`;
    await Deno.writeTextFile(linkFile, made.stdout);
    const full = await runCmdop(["connect", "share", "watched-box"], { env });
    fullLinkFile = `${scratch}/full.txt`;
    await Deno.writeTextFile(fullLinkFile, full.stdout);
    // Someone outside the workspace: only the link.
    viewerEnv = { CMDOP_HOME: (await clientEnv(relay.url)).CMDOP_HOME };
    const terminal = (e: Record<string, string>) => ({
      cols: 100,
      rows: 30,
      env: { ...e, NO_COLOR: "1", TERM: "xterm-256color", PATH: `${scratch}/bin:/usr/bin:/bin` },
    });
    owner = await Tmux.start(terminal(env));
    viewer = await Tmux.start(terminal(viewerEnv));
  });

  beforeEach(async () => {
    await owner.respawn();
    await viewer.respawn();
  });

  after(async () => {
    await owner?.kill();
    await viewer?.kill();
    await killAll();
    if (scratch) await Deno.remove(scratch, { recursive: true });
  });

  it("is listed as read-only, in the table and in --json, to its own workspace only", async () => {
    const listed = await runCmdop(["connect", "share", "list", "--json"], { env });
    assert.equal(listed.code, 0, listed.stderr);
    const shares = JSON.parse(listed.stdout) as { read_only: boolean }[];
    assert.deepEqual(shares.map((s) => s.read_only), [true, false]);
    const table = await runCmdop(["connect", "share", "list"], { env });
    assert.match(table.stdout, /ACCESS\n/);
    assert.match(table.stdout, /active +read-only\n.*active +full\n/);
    const elsewhere = await runCmdop(["connect", "share", "list", "--json"], {
      env: await clientEnv(relay.url, other.api_key),
    });
    assert.deepEqual(JSON.parse(elsewhere.stdout || "[]"), []);
  });

  it("refuses exec and cp with exit 2, saying the link is read-only", async () => {
    const exec = await runCmdop(
      ["connect", "exec", "--link-file", linkFile, "--", "touch", `${scratch}/exec-ran`],
      { env: viewerEnv },
    );
    assert.equal(exec.code, 2, exec.stderr);
    assert.match(
      exec.stderr,
      /this share link is read-only: it can watch a terminal on "watched-box", not run commands/,
    );
    const json = await runCmdop(
      ["connect", "exec", "--json", "--link-file", linkFile, "--", "true"],
      { env: viewerEnv },
    );
    assert.equal(json.code, 2);
    assert.match(JSON.parse(json.stdout).error, /read-only/);
    const cp = await runCmdop(
      ["connect", "cp", "--link-file", linkFile, `${scratch}/link.txt`, `:${scratch}/copied`],
      { env: viewerEnv },
    );
    assert.equal(cp.code, 2, cp.stderr);
    assert.match(cp.stderr, /read-only: it can watch a terminal on "watched-box", not copy files/);
    await assert.rejects(Deno.stat(`${scratch}/exec-ran`));
    await assert.rejects(Deno.stat(`${scratch}/copied`));
  });

  it("says there is nothing to watch while its owner has no terminal open", async () => {
    const r = await runCmdop(["connect", "--link-file", linkFile], { env: viewerEnv });
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /nothing to watch yet: this read-only link shows the terminal its owner/,
    );
    const exec = await runCmdop(["connect", "exec", "--link-file", linkFile, "--", "true"], {
      env: viewerEnv,
    });
    assert.equal(exec.code, 2, "exec is refused before anything is looked for");
  });

  it("shows the owner's terminal as it is typed in, sends none of the viewer's keys, and ends with it", async () => {
    await owner.type("cmdop connect watched-box; echo OWNER_EX''IT=$?");
    await owner.waitFor(/attached to "watched-box"/);
    await owner.type("echo BEFORE-$((6*7))");
    await owner.waitFor(/^BEFORE-42\s*$/m);

    await viewer.type(`cmdop connect --link-file ${linkFile}; echo VIEWER_EX''IT=$?`);
    // What the terminal showed last comes first, then what it shows from then on.
    await viewer.waitFor(/read-only: watching a terminal on "watched-box"; keys are not sent/);
    await viewer.waitFor(/BEFORE-42/);
    // Without a terminal, the watched session goes to stdout (and stdin nowhere).
    const piped = streamCli(["connect", "--link-file", linkFile], viewerEnv);
    await waitFor("the piped viewer to start", () => /read-only: watching/.test(piped.stderr()));
    await piped.write(`touch ${scratch}/piped-by-viewer\n`);
    await owner.type("echo LIVE-$((7*7))");
    await viewer.waitFor(/^LIVE-49\s*$/m);
    await waitFor("the piped viewer's output", () => piped.stdout().includes("LIVE-49"));

    // The viewer types a command and Enter: nothing reaches the machine, nor the owner's screen.
    const marker = `${scratch}/typed-by-viewer`;
    await viewer.type(`touch ${marker}`);
    await owner.type("echo AFTER-$((8*8))");
    await viewer.waitFor(/^AFTER-64\s*$/m);
    await assert.rejects(Deno.stat(marker), "the viewer's keys reached the machine");
    assert.doesNotMatch(await owner.capture(), /typed-by-viewer/);

    await owner.type("exit 3");
    await owner.waitFor(/^OWNER_EXIT=3\s*$/m);
    const screen = await viewer.waitFor(/^VIEWER_EXIT=\d+\s*$/m);
    assert.match(screen, /connection to "watched-box" closed \(exit status 3\)/);
    assert.match(screen, /^VIEWER_EXIT=3\s*$/m);
    assert.equal(await piped.status, 3, piped.stderr());
    await assert.rejects(Deno.stat(`${scratch}/piped-by-viewer`));
  });

  it("does not show a terminal opened through a full share link", async () => {
    await owner.type(`cmdop connect --link-file ${fullLinkFile}; echo OWNER_EX''IT=$?`);
    await owner.waitFor(/attached to "watched-box"/);
    const r = await runCmdop(["connect", "--link-file", linkFile], { env: viewerEnv });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /nothing to watch yet/);
    await owner.type("exit 0");
    await owner.waitFor(/^OWNER_EXIT=0\s*$/m);
  });

  it("ends a viewer whose link is revoked, with exit 2", async () => {
    await owner.type("cmdop connect watched-box; echo OWNER_EX''IT=$?");
    await owner.waitFor(/attached to "watched-box"/);
    await viewer.type(`cmdop connect --link-file ${linkFile}; echo VIEWER_EX''IT=$?`);
    await viewer.waitFor(/read-only: watching a terminal/);
    const listed = JSON.parse(
      (await runCmdop(["connect", "share", "list", "--json"], { env })).stdout,
    ) as { id: string; read_only: boolean }[];
    const id = listed.find((s) => s.read_only)!.id;
    const revoked = await runCmdop(["connect", "share", "revoke", id], { env });
    assert.equal(revoked.code, 0, revoked.stderr);
    const screen = await viewer.waitFor(/^VIEWER_EXIT=\d+\s*$/m);
    assert.match(screen, /share link was revoked/);
    assert.match(screen, /^VIEWER_EXIT=2\s*$/m);
    // The owner's terminal goes on.
    await owner.type("echo STILL-$((9*9))");
    await owner.waitFor(/^STILL-81\s*$/m);
    await owner.type("exit 0");
  });
});
