/** `cmdop completions`: the bash script completes real command paths and flags when sourced in bash. */
import { describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import { runCmdop } from "../_harness.ts";

/** Sources the script in bash and returns what it offers for the words typed so far. */
async function complete(script: string, words: string[]): Promise<string[]> {
  const quoted = words.map((w) => `'${w}'`).join(" ");
  const program = `${script}\nCOMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; _cmdop; ` +
    `printf '%s\\n' "\${COMPREPLY[@]}"`;
  const output = await new Deno.Command("bash", { args: ["-c", program], stdin: "null" }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  return new TextDecoder().decode(output.stdout).split("\n").filter(Boolean);
}

async function hasCommand(name: string): Promise<boolean> {
  const which = await new Deno.Command("sh", { args: ["-c", `command -v ${name}`] }).output();
  return which.code === 0;
}

describe("cmdop completions", () => {
  it("completes subcommands and flags at each level in bash", async () => {
    const r = await runCmdop(["completions", "bash"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await complete(r.stdout, ["cmdop", "con"]), ["connect"]);
    assert.deepEqual(await complete(r.stdout, ["cmdop", "connect", "e"]), ["exec"]);
    assert.deepEqual(await complete(r.stdout, ["cmdop", "connect", "exec", "web", "--ti"]), [
      "--timeout",
    ]);
    // Global flags and their values do not break the path.
    const keyVerbs = await complete(r.stdout, ["cmdop", "connect", "-k", "x", "key", ""]);
    assert.ok(["set", "get", "clear"].every((v) => keyVerbs.includes(v)), keyVerbs.join(" "));
    assert.deepEqual(await complete(r.stdout, ["cmdop", "relay", "serve", "--li"]), ["--listen"]);
    // Running on many machines, and labelling one.
    assert.deepEqual(await complete(r.stdout, ["cmdop", "connect", "exec", "--la"]), ["--label"]);
    assert.deepEqual(await complete(r.stdout, ["cmdop", "connect", "exec", "--al"]), ["--all"]);
    assert.deepEqual(await complete(r.stdout, ["cmdop", "connect", "exec", "--pa"]), [
      "--parallel",
    ]);
    assert.deepEqual(await complete(r.stdout, ["cmdop", "connect", "exec", "--gr"]), ["--group"]);
    assert.deepEqual(await complete(r.stdout, ["cmdop", "agent", "run", "--la"]), ["--label"]);
    assert.deepEqual(await complete(r.stdout, ["cmdop", "connect", "--list", "--la"]), [
      "--label",
    ]);
    assert.deepEqual(await complete(r.stdout, ["cmdop", "connect", "au"]), ["audit"]);
    assert.deepEqual(await complete(r.stdout, ["cmdop", "connect", "audit", "--si"]), ["--since"]);
    assert.deepEqual(await complete(r.stdout, ["cmdop", "connect", "share", "web", "--re"]), [
      "--read-only",
    ]);
    assert.deepEqual(await complete(r.stdout, ["cmdop", "connect", "se"]), ["sessions"]);
    assert.deepEqual(await complete(r.stdout, ["cmdop", "relay", "workspace", "rec"]), [
      "recording",
    ]);
    assert.deepEqual(await complete(r.stdout, ["cmdop", "connect", "replay", "--sp"]), [
      "--speed",
    ]);
  });

  it("writes zsh and fish scripts, and refuses other shells", async () => {
    const zsh = await runCmdop(["completions", "zsh"]);
    assert.match(zsh.stdout, /bashcompinit/);
    const fish = await runCmdop(["completions", "fish"]);
    assert.match(
      fish.stdout,
      /complete -c cmdop -f -n '__cmdop_at "connect"' -a 'exec cp forward share key workspace password machine audit sessions replay'/,
    );
    assert.match(fish.stdout, /complete -c cmdop -n '__cmdop_at "connect exec"' -l timeout/);
    assert.match(fish.stdout, /complete -c cmdop -n '__cmdop_at "connect exec"' -l label/);
    assert.match(fish.stdout, /complete -c cmdop -n '__cmdop_at "connect exec"' -l all/);
    assert.match(fish.stdout, /complete -c cmdop -n '__cmdop_at "connect share"' -l read-only/);
    // Where fish is installed, ask it what it would complete.
    if (await hasCommand("fish")) {
      const script = await Deno.makeTempFile({ suffix: ".fish" });
      await Deno.writeTextFile(script, fish.stdout);
      const offered = await new Deno.Command("fish", {
        args: ["-c", `source ${script}; complete -C "cmdop connect exec web --ti"`],
      }).output();
      assert.match(new TextDecoder().decode(offered.stdout), /^--timeout/);
    }
    const other = await runCmdop(["completions", "tcsh"]);
    assert.equal(other.code, 1);
    assert.match(other.stderr, /no completions for shell "tcsh"/);
  });
});
