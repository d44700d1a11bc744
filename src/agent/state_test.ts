/** Tests of the agent's state file: a symbolic link in its place is refused, the folder made private. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadAgentState, saveAgentState } from "./state.ts";
import { UnsafeFileError } from "../lib/private_files.ts";

const STATE = { server: "http://127.0.0.1:1", machine_id: "m", workspace_id: "w", credential: "c" };

describe("agent state file", () => {
  it("refuses agent.json when it is a symbolic link, to read or to write", async () => {
    const dir = await Deno.makeTempDir();
    const outside = join(await Deno.makeTempDir(), "other.json");
    await Deno.writeTextFile(outside, JSON.stringify(STATE));
    await Deno.symlink(outside, join(dir, "agent.json"));
    const named = (error: unknown) => {
      assert.ok(error instanceof UnsafeFileError, String(error));
      assert.equal(error.path, join(dir, "agent.json"));
      return true;
    };
    await assert.rejects(loadAgentState(dir), named);
    await assert.rejects(saveAgentState(dir, STATE, () => {}), named);
    assert.equal(await Deno.readTextFile(outside), JSON.stringify(STATE));
  });

  it("tightens a state folder other users can read, and says so", async () => {
    const dir = await Deno.makeTempDir();
    await Deno.chmod(dir, 0o755);
    const lines: string[] = [];
    await saveAgentState(dir, STATE, (line) => lines.push(line));
    assert.equal((await Deno.stat(dir)).mode! & 0o777, 0o700);
    assert.equal((await Deno.stat(join(dir, "agent.json"))).mode! & 0o777, 0o600);
    assert.match(lines.join("\n"), /was mode 0755/);
    assert.deepEqual(await loadAgentState(dir), STATE);
  });

  it("keeps the machine's labels, and refuses a file whose labels are not valid", async () => {
    const dir = await Deno.makeTempDir();
    const labelled = { ...STATE, labels: { env: "prod", role: "web" } };
    await saveAgentState(dir, labelled, () => {});
    assert.deepEqual(await loadAgentState(dir), labelled);
    for (
      const [labels, why] of [
        [["env=prod"], /labels must be an object of strings/],
        [{ env: 1 }, /labels must be an object of strings/],
        [{ "bad key": "x" }, /key must start with a letter or digit/],
      ] as const
    ) {
      await Deno.writeTextFile(join(dir, "agent.json"), JSON.stringify({ ...STATE, labels }));
      await assert.rejects(loadAgentState(dir), why);
    }
  });
});
