import assert from "node:assert/strict";
import { describe, it } from "../_suite.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

describe("make check-gen", () => {
  it(
    "names a hand-edited and a missing lean codec, and nothing else",
    { timeoutMs: 300_000 },
    async () => {
      const tree = await Deno.makeTempDir({ prefix: "cmdop-check-gen-" });
      try {
        for (const dir of ["gen", "src/protocol/lean"]) {
          await Deno.mkdir(`${tree}/${dir}`, { recursive: true });
          const copy = await new Deno.Command("cp", {
            args: ["-R", `${ROOT}${dir}/.`, `${tree}/${dir}`],
          })
            .output();
          assert.ok(copy.success, `copying ${dir}`);
        }
        const edited = "src/protocol/lean/cmdop/v1/session_lean.ts";
        const text = await Deno.readTextFile(`${tree}/${edited}`);
        // A field skipped by hand, as a stale codec would skip a field added to the proto.
        const lines = text.split("\n").filter((line) => !line.includes('case "halfDuplex": w.'));
        assert.equal(lines.length, text.split("\n").length - 1, "the edit removed one line");
        await Deno.writeTextFile(`${tree}/${edited}`, lines.join("\n"));
        await Deno.remove(`${tree}/src/protocol/lean/cmdop/v1/share_lean.ts`);

        const out = await new Deno.Command("bash", {
          args: [`${ROOT}scripts/check_gen.sh`, tree],
          stdout: "piped",
          stderr: "piped",
        }).output();
        const stderr = new TextDecoder().decode(out.stderr);
        assert.equal(out.code, 1, stderr);
        const named = stderr.split("\n").filter((line) => / is (stale|missing)/.test(line));
        assert.deepEqual(named.sort(), [
          "src/protocol/lean/cmdop/v1/session_lean.ts is stale: it differs from what proto/ generates",
          "src/protocol/lean/cmdop/v1/share_lean.ts is missing: proto/ generates it",
        ]);
        assert.match(stderr, /hint: run make gen and commit gen src\/protocol\/lean/);
      } finally {
        await Deno.remove(tree, { recursive: true });
      }
    },
  );
});
