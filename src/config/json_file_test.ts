/** Tests of the JSON file mechanism: validation errors, atomic 0600 writes, cross-process locking. */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import {
  ConfigFileError,
  readJsonFile,
  removeJsonFile,
  updateJsonFile,
  writeJsonFile,
} from "./json_file.ts";
import { parseWorkspacesFile } from "./workspaces.ts";
import { listNames, makeTempHome, modeOf, writeRaw } from "./_test_helpers.ts";

const jsonFileModule = new URL("./json_file.ts", import.meta.url).href;

describe("readJsonFile()", () => {
  it("returns undefined for a missing file", async () => {
    const home = await makeTempHome();
    assert.equal(await readJsonFile(join(home, "none.json")), undefined);
  });

  it("names the file and the problem for invalid JSON", async () => {
    const path = join(await makeTempHome(), "broken.json");
    await writeRaw(path, '{"active": ');
    await assert.rejects(readJsonFile(path), (error: unknown) => {
      assert.ok(error instanceof ConfigFileError);
      assert.equal(error.path, path);
      assert.match(error.message, /^".*broken\.json" is not valid JSON/);
      return true;
    });
  });

  it("names the field that has the wrong shape", async () => {
    const path = join(await makeTempHome(), "ssh_workspaces.json");
    await writeRaw(
      path,
      JSON.stringify({
        version: 1,
        active: null,
        workspaces: [{ name: "a" }, { name: "b" }, { name: 7 }],
      }),
    );
    await assert.rejects(readJsonFile(path, parseWorkspacesFile), {
      name: "ConfigFileError",
      message: `"${path}" is not valid: workspaces[2].name must be a string`,
    });
  });

  it("rejects bytes that are not UTF-8 instead of guessing", async () => {
    const path = join(await makeTempHome(), "latin1.json");
    await writeRaw(path, "");
    await Deno.writeFile(path, new Uint8Array([0x22, 0xe9, 0x22]));
    await assert.rejects(readJsonFile(path), {
      message: `"${path}" is not valid UTF-8`,
    });
  });

  it("names the file when it cannot be read at all", async () => {
    const path = join(await makeTempHome(), "folder.json");
    await Deno.mkdir(path, { recursive: true });
    await assert.rejects(readJsonFile(path), (error: unknown) => {
      assert.ok(error instanceof ConfigFileError);
      assert.match(error.message, new RegExp(`^"${path}" cannot be read: `));
      return true;
    });
  });
});

describe("writeJsonFile()", () => {
  it("creates the folder with mode 0700 and the file with mode 0600", async () => {
    const home = await makeTempHome();
    const path = join(home, "a.json");
    await writeJsonFile(path, { hello: "world" });
    assert.equal(await modeOf(home), 0o700);
    assert.equal(await modeOf(path), 0o600);
    assert.equal(await Deno.readTextFile(path), '{\n  "hello": "world"\n}\n');
    assert.deepEqual(await listNames(home), ["a.json"]);
  });

  it("makes a file 0600 again when it was more open before", async () => {
    const path = join(await makeTempHome(), "a.json");
    await writeRaw(path, "{}");
    await Deno.chmod(path, 0o644);
    await writeJsonFile(path, { n: 1 });
    assert.equal(await modeOf(path), 0o600);
  });

  it("leaves no temporary file behind and names the target when the rename fails", async () => {
    const home = await makeTempHome();
    const path = join(home, "taken.json");
    await Deno.mkdir(join(path, "inside"), { recursive: true });
    await assert.rejects(writeJsonFile(path, { n: 1 }), {
      name: "ConfigFileError",
      message: new RegExp(`^"${path}" cannot be written: `),
    });
    assert.deepEqual(await listNames(home), ["taken.json"]);
  });

  it("never lets a reader see a partial file, even when the writer is killed", async () => {
    const path = join(await makeTempHome(), "big.json");
    const padding = "x".repeat(256 * 1024);
    await writeJsonFile(path, { round: -1, padding });
    const writer = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        "--ext=ts",
        `import { writeJsonFile } from ${JSON.stringify(jsonFileModule)};
         const padding = "x".repeat(256 * 1024);
         for (let round = 0; ; round++) await writeJsonFile(${
          JSON.stringify(path)
        }, { round, padding });`,
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    const seenRounds = new Set<number>();
    const deadline = Date.now() + 10_000;
    while (seenRounds.size < 30 && Date.now() < deadline) {
      const text = await Deno.readTextFile(path);
      const value = JSON.parse(text) as { round: number; padding: string };
      assert.equal(value.padding.length, padding.length);
      seenRounds.add(value.round);
    }
    writer.kill("SIGKILL");
    await writer.status;
    const final = JSON.parse(await Deno.readTextFile(path));
    assert.equal(final.padding.length, padding.length);
    assert.ok(
      seenRounds.size > 5,
      `the writer made progress (${seenRounds.size})`,
    );
  });
});

describe("updateJsonFile()", () => {
  it("creates the file from undefined with mode 0600", async () => {
    const path = join(await makeTempHome(), "n.json");
    const result = await updateJsonFile<{ n: number }>(path, (current) => ({
      n: (current?.n ?? 0) + 1,
    }));
    assert.deepEqual(result, { n: 1 });
    assert.equal(await modeOf(path), 0o600);
  });

  it("writes nothing when the update returns undefined", async () => {
    const home = await makeTempHome();
    const path = join(home, "n.json");
    assert.equal(await updateJsonFile(path, () => undefined), undefined);
    await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
  });

  it("does not rewrite a file whose content would not change", async () => {
    const path = join(await makeTempHome(), "n.json");
    await writeJsonFile(path, { n: 1 });
    const before = await Deno.stat(path);
    await updateJsonFile(path, () => ({ n: 1 }));
    assert.equal((await Deno.stat(path)).ino, before.ino);
  });

  it("leaves a corrupt file byte-for-byte alone and never calls the update", async () => {
    const path = join(await makeTempHome(), "ssh_workspaces.json");
    const garbage = '{"version":1,"workspaces":[{"name":';
    await writeRaw(path, garbage);
    let called = false;
    await assert.rejects(
      updateJsonFile(path, (current) => {
        called = true;
        return current;
      }, parseWorkspacesFile),
      (error: unknown) => error instanceof ConfigFileError && error.path === path,
    );
    assert.equal(called, false);
    assert.equal(await Deno.readTextFile(path), garbage);
  });

  it("refuses to write a value its own validator would reject", async () => {
    const path = join(await makeTempHome(), "ssh_workspaces.json");
    await writeJsonFile(path, { version: 1, active: null, workspaces: [] });
    const before = await Deno.readTextFile(path);
    await assert.rejects(
      updateJsonFile(path, (file) => {
        file!.workspaces.push({ name: "a" }, { name: "a" });
        return file;
      }, parseWorkspacesFile),
      {
        message: `refusing to write "${path}", which would not be valid: ` +
          'workspaces[1].name repeats the name "a"',
      },
    );
    assert.equal(await Deno.readTextFile(path), before);
  });

  it("keeps the old content when the update throws", async () => {
    const path = join(await makeTempHome(), "n.json");
    await writeJsonFile(path, { n: 1 });
    await assert.rejects(
      updateJsonFile(path, () => {
        throw new Error("changed my mind");
      }),
      { message: "changed my mind" },
    );
    assert.equal(await Deno.readTextFile(path), '{\n  "n": 1\n}\n');
  });

  it("loses no update when 20 processes update the same file at once", async () => {
    const path = join(await makeTempHome(), "shared.json");
    const runs = Array.from(
      { length: 20 },
      (_, id) =>
        new Deno.Command(Deno.execPath(), {
          args: [
            "eval",
            "--ext=ts",
            `import { updateJsonFile } from ${JSON.stringify(jsonFileModule)};
           await updateJsonFile(${JSON.stringify(path)}, async (current?: { ids: number[] }) => {
             const ids = current?.ids ?? [];
             await new Promise((resolve) => setTimeout(resolve, 25));
             return { ids: [...ids, ${id}] };
           });`,
          ],
          stdout: "null",
          stderr: "piped",
        }).output(),
    );
    for (const run of await Promise.all(runs)) {
      assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
    }
    const { ids } = JSON.parse(await Deno.readTextFile(path)) as {
      ids: number[];
    };
    assert.deepEqual([...ids].sort((a, b) => a - b), [...Array(20).keys()]);
    assert.equal(await modeOf(path), 0o600);
    assert.deepEqual(await listNames(dirname(path)), [
      "shared.json",
      "shared.json.lock",
    ]);
  });

  it("serialises concurrent updates inside one process too", async () => {
    const path = join(await makeTempHome(), "local.json");
    await Promise.all(
      Array.from(
        { length: 10 },
        (_, id) =>
          updateJsonFile<{ ids: number[] }>(path, async (current) => {
            await new Promise((resolve) => setTimeout(resolve, 5));
            return { ids: [...(current?.ids ?? []), id] };
          }),
      ),
    );
    const { ids } = JSON.parse(await Deno.readTextFile(path)) as {
      ids: number[];
    };
    assert.equal(ids.length, 10);
  });
});

describe("removeJsonFile()", () => {
  it("deletes the file and says whether there was one", async () => {
    const path = join(await makeTempHome(), "auth.json");
    await writeJsonFile(path, {});
    assert.equal(await removeJsonFile(path), true);
    assert.equal(await removeJsonFile(path), false);
    await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
  });
});
