/** Tests that files of CMDOP_HOME planted as symbolic links are refused, named, and never read out. */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { ConfigFileError, readJsonFile, updateJsonFile, writeJsonFile } from "./json_file.ts";
import { makeTempHome } from "./_test_helpers.ts";

/** A folder outside the home holding a secret-looking file, like /etc/passwd. */
async function outsideFile(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "cmdop_outside_" });
  const path = join(dir, "passwd");
  await Deno.writeTextFile(path, "root:x:0:0:root:/root:/bin/bash\n");
  return path;
}

function refusedLink(path: string) {
  return (error: unknown) => {
    assert.ok(error instanceof ConfigFileError, String(error));
    assert.equal(error.path, path);
    assert.match(error.message, /is a symbolic link/);
    assert.doesNotMatch(`${error.message} ${error.hint ?? ""}`, /root:x/);
    return true;
  };
}

describe("files of CMDOP_HOME that are symbolic links", () => {
  it("readJsonFile() refuses auth.json linked to a file outside, without printing it", async () => {
    const home = await makeTempHome();
    await Deno.mkdir(home, { recursive: true });
    const path = join(home, "auth.json");
    await Deno.symlink(await outsideFile(), path);
    await assert.rejects(readJsonFile(path), refusedLink(path));
  });

  it("a file that is not JSON is refused without quoting its content", async () => {
    const home = await makeTempHome();
    await Deno.mkdir(home, { recursive: true });
    const path = join(home, "auth.json");
    await Deno.writeTextFile(path, "root:x:0:0:root:/root:/bin/bash\n");
    await assert.rejects(readJsonFile(path), (error: unknown) => {
      assert.ok(error instanceof ConfigFileError);
      assert.match(error.message, /is not valid JSON/);
      assert.doesNotMatch(error.message, /root/);
      return true;
    });
  });

  it("updateJsonFile() refuses a linked .lock and creates nothing at its target", async () => {
    const home = await makeTempHome();
    await Deno.mkdir(home, { recursive: true });
    const target = join(await Deno.makeTempDir({ prefix: "cmdop_outside_" }), "created-by-cmdop");
    const path = join(home, "recent.json");
    await Deno.symlink(target, `${path}.lock`);
    await assert.rejects(
      updateJsonFile(path, () => ({ entries: [] })),
      refusedLink(`${path}.lock`),
    );
    await assert.rejects(Deno.lstat(target), Deno.errors.NotFound);
  });

  it("updateJsonFile() neither reads nor replaces a config.json linked outside", async () => {
    const home = await makeTempHome();
    await Deno.mkdir(home, { recursive: true });
    const outside = await outsideFile();
    const path = join(home, "config.json");
    await Deno.symlink(outside, path);
    await assert.rejects(updateJsonFile(path, () => ({ migrated: true })), refusedLink(path));
    await assert.rejects(writeJsonFile(path, { migrated: true }), refusedLink(path));
    assert.ok((await Deno.lstat(path)).isSymlink);
    assert.match(await Deno.readTextFile(outside), /^root:x/);
  });
});
