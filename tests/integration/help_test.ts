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
    for (const verb of [["connect", "exec"], ["connect", "workspace", "use"], ["relay", "serve"]]) {
      const r = await cmdop([...verb, "--help"]);
      assert.equal(r.code, 0);
      assert.match(r.stdout, new RegExp(`^Examples:\\n {2}\\$ cmdop ${verb.join(" ")}`));
    }
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
