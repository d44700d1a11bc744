/** Tests of the relay's data folder: 0700 and 0600 whatever it was before, and no symbolic links followed. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { openSqliteDatabase } from "./sqlite_db.ts";
import { UnsafeFileError } from "../../lib/private_files.ts";

const FILES = ["relay.db", "relay.db-wal", "relay.db-shm"];

async function modeOf(path: string): Promise<number> {
  return (await Deno.stat(path)).mode! & 0o777;
}

describe("openSqliteDatabase() and file modes", () => {
  it("creates the folder 0700 and relay.db with its WAL files 0600, under umask 022", async () => {
    const dir = join(await Deno.makeTempDir(), "data");
    const lines: string[] = [];
    const db = await openSqliteDatabase(dir, (line) => lines.push(line));
    db.exec("INSERT INTO workspaces (id, name, created_ms) VALUES ('w', 'w', 1)");
    try {
      assert.equal(await modeOf(dir), 0o700);
      for (const name of FILES) assert.equal(await modeOf(join(dir, name)), 0o600, name);
      assert.deepEqual(lines, []);
    } finally {
      db.close();
    }
  });

  it("tightens a 0755 folder and 0644 files left by an older relay, and says so", async () => {
    const dir = await Deno.makeTempDir();
    const first = await openSqliteDatabase(dir, () => {});
    first.close();
    await Deno.chmod(dir, 0o755);
    await Deno.chmod(join(dir, "relay.db"), 0o644);
    await Deno.writeTextFile(join(dir, "relay.db-wal"), "", { mode: 0o644 });
    await Deno.chmod(join(dir, "relay.db-wal"), 0o644);
    const lines: string[] = [];
    const db = await openSqliteDatabase(dir, (line) => lines.push(line));
    db.close();
    assert.equal(await modeOf(dir), 0o700);
    assert.equal(await modeOf(join(dir, "relay.db")), 0o600);
    const log = lines.join("\n");
    assert.match(log, new RegExp(`folder "${dir}" was mode 0755`));
    assert.match(log, /relay\.db" was mode 0644.*changed to 0600/);
  });

  for (const name of FILES) {
    it(`refuses ${name} when it is a symbolic link, naming it`, async () => {
      const dir = await Deno.makeTempDir();
      const outside = join(await Deno.makeTempDir(), "elsewhere");
      await Deno.writeTextFile(outside, "not the relay's\n");
      await Deno.symlink(outside, join(dir, name));
      await assert.rejects(openSqliteDatabase(dir, () => {}), (error: unknown) => {
        assert.ok(error instanceof UnsafeFileError, String(error));
        assert.equal(error.path, join(dir, name));
        assert.match(error.message, /is a symbolic link/);
        return true;
      });
      assert.equal(await Deno.readTextFile(outside), "not the relay's\n");
    });
  }
});
