/** Help text reaches a pipe whole: the process must not exit before its last write. */
import { describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import { MAIN } from "../_harness.ts";

describe("cmdop --help", () => {
  it("writes the whole help of connect to a pipe before exiting", async () => {
    // Through a shell pipe, as `cmdop connect --help | less` would be.
    const command = `"${Deno.execPath()}" run -A --quiet "${MAIN}" connect --help | cat`;
    const output = await new Deno.Command("sh", {
      args: ["-c", command],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(output.stdout);
    assert.equal(output.code, 0);
    assert.match(text, /^Examples:\n[\s\S]*\nUsage: cmdop connect/);
    assert.match(text, /a hostname is\s+required\.\n+$/);
  });
});

/** Runs `cmdop ARGS` and returns its exit code, stdout and stderr. */
async function cmdop(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", MAIN, ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

describe("help a new user reads", () => {
  it("prints the help and exits 0 for a bare cmdop", async () => {
    const r = await cmdop([]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Usage: cmdop \[options\] \[command\]/);
    assert.equal(r.stderr, "");
  });

  it("opens cmdop --help and each verb's help with examples", async () => {
    const root = await cmdop(["--help"]);
    assert.match(root.stdout, /^Examples:\n {2}\$ cmdop connect --list/);
    for (
      const verb of [
        ["connect", "exec"],
        ["connect", "cp"],
        ["connect", "forward"],
        ["connect", "sessions"],
        ["connect", "replay"],
        ["relay", "workspace", "recording", "on"],
        ["connect", "workspace", "use"],
        ["relay", "serve"],
      ]
    ) {
      const r = await cmdop([...verb, "--help"]);
      assert.equal(r.code, 0);
      assert.match(r.stdout, new RegExp(`^Examples:\\n {2}\\$ cmdop ${verb.join(" ")}`));
    }
    const share = await cmdop(["connect", "share", "--help"]);
    assert.match(share.stdout, /^Examples:\n(.*\n)* {2}\$ cmdop connect share web-1 --read-only/);
    assert.match(share.stdout, /--read-only +the link watches the terminal you open/);
  });

  it("lists the inherited global flags in a sub-command's help, and what --timeout 0 means", async () => {
    const r = await cmdop(["connect", "exec", "--help"]);
    const inherited = r.stdout.slice(r.stdout.indexOf("Inherited flags:"));
    assert.ok(inherited.length > 0, r.stdout);
    for (
      const flag of [
        "-k, --api-key",
        "-s, --server",
        "--workspace",
        "--json",
        "-q, --no-interactive",
      ]
    ) {
      assert.ok(inherited.includes(flag), `${flag} in:\n${inherited}`);
    }
    assert.doesNotMatch(inherited, /--list|--version/);
    assert.match(r.stdout, /--timeout <seconds>[\s\S]*0\s+= no limit/);
    assert.match(r.stdout, /--shell\s+run the command as one line through sh -c/);
  });

  it("tells in exec's help how to run on many machines and what its exit codes mean", async () => {
    const r = await cmdop(["connect", "exec", "--help"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /cmdop connect exec \[options\] \(--label <key=value>\.\.\. \| --all\)/);
    assert.match(r.stdout, /--label <key=value>\s+run on every machine with this label/);
    assert.match(r.stdout, /--all\s+run on every machine of the workspace/);
    assert.match(
      r.stdout,
      /--parallel <n>\s+with --label\/--all: machines at once\s+\(default:\s+"16"\)/,
    );
    assert.match(r.stdout, /--group\s+/);
    assert.match(r.stdout, /Exit 0 when every machine ran the command with status 0; 5 when any/);
    const agent = await cmdop(["agent", "run", "--help"]);
    assert.match(
      agent.stdout,
      /--label <key=value>\s+label this machine, e\.g\. env=prod \(repeatable\);\s+labels\s+given\s+here\s+replace\s+the\s+saved\s+ones,\s+which\s+are\s+kept\s+when\s+none\s+is\s+given/,
    );
    const connect = await cmdop(["connect", "--help"]);
    assert.match(
      connect.stdout,
      /--label <key=value>\s+with --list: only machines with this\s+label/,
    );
  });

  it("names cmdop's, Deno's, the platform's and the protocol's versions", async () => {
    const r = await cmdop(["--version"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^cmdop \d+\.\d+\.\d+\n/);
    assert.match(
      r.stdout,
      new RegExp(`\\ndeno ${Deno.version.deno} \\(${Deno.build.os} ${Deno.build.arch}\\)\\n`),
    );
    assert.match(r.stdout, /\nprotocol cmdop\.v1\n$/);
  });
});
