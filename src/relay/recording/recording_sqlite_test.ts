/** Tests of SqliteRecordingStore: the store's rules, private files, and no link followed. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { UnsafeFileError } from "../../lib/private_files.ts";
import { openSqliteStore } from "../store/sqlite.ts";
import { SqliteRecordingStore } from "./recording_sqlite.ts";
import { checkRecordingStore, sampleRecording } from "./_store_cases.ts";

describe("SqliteRecordingStore", () => {
  it("keeps the setting, the bytes and the index, lists, isolates and prunes", async () => {
    const dir = await Deno.makeTempDir();
    const store = await openSqliteStore(dir);
    try {
      await checkRecordingStore(store, await SqliteRecordingStore.open(store.db, dir, () => {}));
      // Pruned recordings leave no file behind.
      const names = [];
      for await (const entry of Deno.readDir(join(dir, "recordings"))) names.push(entry.name);
      assert.equal(names.length, 4);
    } finally {
      await store.close();
    }
  });

  it("writes files 0600 in a 0700 folder, tightening a loose folder and saying so", async () => {
    const dir = await Deno.makeTempDir();
    await Deno.mkdir(join(dir, "recordings"), { mode: 0o755 });
    await Deno.chmod(join(dir, "recordings"), 0o755);
    const store = await openSqliteStore(dir);
    const lines: string[] = [];
    try {
      const recordings = await SqliteRecordingStore.open(store.db, dir, (l) => lines.push(l));
      const row = sampleRecording("ws", 1);
      await (await recordings.begin(row)).idle();
      assert.equal((await Deno.stat(join(dir, "recordings"))).mode! & 0o777, 0o700);
      assert.equal((await Deno.stat(recordings.pathOf(row.id))).mode! & 0o777, 0o600);
      assert.match(lines.join("\n"), /recordings" was mode 0755/);
    } finally {
      await store.close();
    }
  });

  it("refuses a recordings folder that is a link, and never writes through a planted link", async () => {
    const dir = await Deno.makeTempDir();
    const elsewhere = await Deno.makeTempDir();
    await Deno.symlink(elsewhere, join(dir, "recordings"));
    const store = await openSqliteStore(dir);
    try {
      await assert.rejects(SqliteRecordingStore.open(store.db, dir, () => {}), UnsafeFileError);
      await Deno.remove(join(dir, "recordings"));
      const recordings = await SqliteRecordingStore.open(store.db, dir, () => {});
      const row = sampleRecording("ws", 1);
      await Deno.symlink(join(elsewhere, "x"), recordings.pathOf(row.id));
      await assert.rejects(recordings.begin(row), Deno.errors.AlreadyExists);
      assert.deepEqual([...Deno.readDirSync(elsewhere)], []);
    } finally {
      await store.close();
    }
  });
});
