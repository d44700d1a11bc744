/** How a share link reaches the CLI: CMDOP_SHARE_LINK and --link-file keep it out of the process list; as an argument it works with a warning. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  clientEnv,
  killAll,
  MACHINE_VARIABLE,
  type RelayProcess,
  runCmdop,
  startAgent,
  startRelay,
} from "../_harness.ts";

/** Prints the marker of the agent that runs it: which machine ran the command. */
const WHICH_MACHINE = ["sh", "-c", `echo "$${MACHINE_VARIABLE}"`];
const ARGV_WARNING = "warning: a share link given as an argument can be read by any local user " +
  "(ps, /proc/PID/cmdline); use --link-file FILE or CMDOP_SHARE_LINK";

describe("share link input", () => {
  let relay: RelayProcess;
  /** A workspace member, who mints the links. */
  let member: Record<string, string>;
  /** Someone outside the workspace: no key, no login, an empty CMDOP_HOME, no relay. */
  let stranger: Record<string, string>;
  let link: string;
  let dir: string;

  async function mint(): Promise<{ id: string; link: string }> {
    const r = await runCmdop(["connect", "share", "shared-box", "--json"], { env: member });
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  }

  async function fileWith(name: string, content: string): Promise<string> {
    const path = join(dir, name);
    await Deno.writeTextFile(path, content, { mode: 0o600 });
    return path;
  }

  before(async () => {
    relay = await startRelay();
    const ws = await relay.createWorkspace("acme");
    member = await clientEnv(relay.url, ws.api_key);
    stranger = { CMDOP_HOME: (await clientEnv(relay.url)).CMDOP_HOME };
    await Promise.all([
      startAgent(relay.url, ws.enroll_token, { hostname: "shared-box" }),
      startAgent(relay.url, ws.enroll_token, { hostname: "private-box" }),
    ]);
    link = (await mint()).link;
    dir = await Deno.makeTempDir({ prefix: "cmdop-links-" });
  });
  after(killAll);

  it("reaches the link's machine from CMDOP_SHARE_LINK, with no host on the command line", async () => {
    const env = { ...stranger, CMDOP_SHARE_LINK: link };
    const r = await runCmdop(["connect", "exec", "--", ...WHICH_MACHINE], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "shared-box\n");
    assert.doesNotMatch(r.stderr, /warning/);
    // Attach too (stdin piped: the remote shell reads it, as with ssh -T).
    const attached = await runCmdop(["connect"], { env, stdin: `${WHICH_MACHINE[2]}; exit 6\n` });
    assert.equal(attached.code, 6, attached.stderr);
    assert.equal(attached.stdout, "shared-box\n");
    assert.doesNotMatch(attached.stderr, /warning/);
    // A machine named on the command line wins over the variable, as flags win over variables.
    const named = await runCmdop(["connect", "exec", "private-box", "--", ...WHICH_MACHINE], {
      env: { ...member, CMDOP_SHARE_LINK: link },
    });
    assert.equal(named.code, 0, named.stderr);
    assert.equal(named.stdout, "private-box\n");
  });

  it("reaches the link's machine from --link-file", async () => {
    const file = await fileWith("link.txt", `${link}\n`);
    const r = await runCmdop(["connect", "exec", "--link-file", file, "--", ...WHICH_MACHINE], {
      env: stranger,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "shared-box\n");
    assert.doesNotMatch(r.stderr, /warning/);
    const json = await runCmdop(
      ["connect", "exec", `--link-file=${file}`, "--json", "--", "echo", "hi"],
      { env: stranger },
    );
    assert.equal(json.code, 0, json.stderr);
    assert.equal(JSON.parse(json.stdout).stdout, "hi\n");
    for (const verb of [["connect"], ["terminal"]]) {
      const attached = await runCmdop([...verb, "--link-file", file], {
        env: stranger,
        stdin: `${WHICH_MACHINE[2]}; exit 5\n`,
      });
      assert.equal(attached.code, 5, `${verb}: ${attached.stderr}`);
      assert.equal(attached.stdout, "shared-box\n", verb.join(" "));
      assert.doesNotMatch(attached.stderr, /warning/);
    }
  });

  it("still takes a link as an argument, with one warning naming the safer ways", async () => {
    const r = await runCmdop(["connect", "exec", link, "--", ...WHICH_MACHINE], { env: stranger });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "shared-box\n");
    assert.equal(r.stderr.split(ARGV_WARNING).length - 1, 1, r.stderr);
    const attached = await runCmdop(["connect", link], { env: stranger, stdin: "exit 3\n" });
    assert.equal(attached.code, 3, attached.stderr);
    assert.equal(attached.stderr.split(ARGV_WARNING).length - 1, 1, attached.stderr);
  });

  it("refuses a link file that is missing, empty or holds no share link, naming it", async () => {
    const exec = (file: string, env = stranger) =>
      runCmdop(["connect", "exec", "--link-file", file, "--", "true"], { env });
    const missing = join(dir, "nowhere.txt");
    const cases: [string, RegExp][] = [
      [missing, new RegExp(`^error: cannot read --link-file "${missing}": no such file\n`)],
      [await fileWith("empty.txt", "\n"), /^error: --link-file ".*empty\.txt" is empty\n/],
      [
        await fileWith("key.txt", "cmk_not-a-share-link\n"),
        /^error: --link-file ".*key\.txt" does not hold a share link\n/,
      ],
      [
        await fileWith("page.txt", `${relay.url}/device\n`),
        /^error: --link-file ".*page\.txt" does not hold a share link\n/,
      ],
      [dir, /^error: cannot read --link-file ".*": it is a folder\n/],
    ];
    for (const [file, message] of cases) {
      const r = await exec(file);
      assert.equal(r.code, 1, `${file}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.match(r.stderr, /\nhint: .*https:\/\/relay\.example\/s\/cms_…/);
      // The content may be another secret: never shown.
      assert.doesNotMatch(r.stderr, /cmk_not-a-share-link|\/device/);
    }
    const badVariable = await runCmdop(["connect", "exec", "--", "true"], {
      env: { ...stranger, CMDOP_SHARE_LINK: "cmk_not-a-share-link" },
    });
    assert.equal(badVariable.code, 1);
    assert.match(badVariable.stderr, /^error: CMDOP_SHARE_LINK does not hold a share link\n/);
    assert.doesNotMatch(badVariable.stderr, /cmk_not-a-share-link/);
    const both = await runCmdop(
      ["connect", "exec", "shared-box", "--link-file", await fileWith("l.txt", link), "--", "true"],
      { env: stranger },
    );
    assert.equal(both.code, 1);
    assert.match(both.stderr, /^error: give a machine or --link-file, not both/);
    const nothing = await runCmdop(["connect", "exec", "--", "true"], { env: stranger });
    assert.equal(nothing.code, 1);
    assert.match(nothing.stderr, /error: no machine given\nhint: .*CMDOP_SHARE_LINK/);
    // A well-formed link the relay refuses is an auth failure, as on the command line.
    const revoked = await mint();
    const revoke = await runCmdop(["connect", "share", "revoke", revoked.id], { env: member });
    assert.equal(revoke.code, 0, revoke.stderr);
    const refused = await exec(await fileWith("revoked.txt", revoked.link));
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /share link was revoked/);
  });
});
