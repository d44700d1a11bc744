import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { ArchiveError, archivePathParts, encodeHeader } from "./archive_format.ts";
import { readArchive } from "./archive_reader.ts";
import { receiveArchive } from "./archive_receiver.ts";
import { newSentSummary, openArchiveSource, writeArchive } from "./archive_writer.ts";
import { FileCopyError } from "./errors.ts";

const root = await Deno.makeTempDir({ prefix: "cmdop-archive-" });
let round = 0;

/** A fresh folder holding `dest/`, so a write outside `dest` shows up beside it. */
async function sandbox(): Promise<{ dir: string; dest: string }> {
  const dir = join(root, `case-${round++}`);
  const dest = join(dir, "dest");
  await Deno.mkdir(dest, { recursive: true });
  return { dir, dest };
}

async function names(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
}

function u32(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}

/** A file record: header, one chunk, the terminator and a digest (the right one unless given). */
function fileRecord(path: string, content: string, digest?: Uint8Array): Uint8Array[] {
  const bytes = new TextEncoder().encode(content);
  const sha = digest ?? new Uint8Array(createHash("sha256").update(bytes).digest());
  return [
    encodeHeader({ type: "file", path, mode: 0o644 }),
    ...(bytes.length > 0 ? [u32(bytes.length), bytes] : []),
    u32(0),
    sha,
  ];
}

async function* frames(parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield part;
}

function receive(parts: Uint8Array[], destination: string) {
  return receiveArchive(readArchive(frames(parts)), { destination });
}

const END = encodeHeader({ type: "end" });

describe("the cp archive", () => {
  after(() => Deno.remove(root, { recursive: true }));

  it("round-trips a tree: nested folders, empty file and folder, modes; a symlink is skipped", async () => {
    const { dir, dest } = await sandbox();
    const tree = join(dir, "src", "site");
    await Deno.mkdir(join(tree, "a", "b"), { recursive: true });
    await Deno.mkdir(join(tree, "empty"));
    await Deno.writeTextFile(join(tree, "a", "b", "c.txt"), "c".repeat(700_000));
    await Deno.writeTextFile(join(tree, "zero"), "");
    await Deno.chmod(join(tree, "zero"), 0o600);
    await Deno.symlink("/etc/passwd", join(tree, "link"));
    const sent = newSentSummary();
    const blocks = writeArchive(await openArchiveSource(tree, true), sent, 64 * 1024);
    const got = await receiveArchive(readArchive(blocks), { destination: dest });
    assert.deepEqual(await names(join(dest, "site")), ["a", "empty", "zero"]);
    assert.equal(
      await Deno.readTextFile(join(dest, "site", "a", "b", "c.txt")),
      "c".repeat(700_000),
    );
    assert.equal((await Deno.stat(join(dest, "site", "zero"))).mode! & 0o777, 0o600);
    assert.deepEqual(got.skipped, [{ path: "site/link", reason: "symbolic link" }]);
    assert.deepEqual(sent.skipped, got.skipped);
    assert.equal(got.files, 2);
    assert.equal(got.bytes, 700_000);
    assert.equal(sent.total, 700_000);
  });

  it("openArchiveSource() refuses a folder without recursive and a missing path, naming it", async () => {
    const { dir } = await sandbox();
    await assert.rejects(openArchiveSource(dir, false), /is a directory \(use -r\)/);
    await assert.rejects(
      openArchiveSource(join(dir, "nope"), false),
      (e: unknown) => e instanceof FileCopyError && /"[^"]*nope": no such file/.test(e.message),
    );
  });

  it("archivePathParts() refuses .., absolute paths, NUL, empty components and depth", () => {
    assert.deepEqual(archivePathParts("a/b"), ["a", "b"]);
    for (
      const bad of ["../escape", "a/../../b", "/etc/passwd", "a\0b", "a//b", "a/", ".", "", 7]
    ) {
      assert.throws(() => archivePathParts(bad), ArchiveError, JSON.stringify(bad));
    }
    assert.throws(() => archivePathParts(Array(300).fill("d").join("/")), /too deep/);
  });

  for (
    const [name, parts, error] of [
      ["a ../ path", [...fileRecord("../escape", "x"), END], /"\.\." component/],
      ["an absolute path", [...fileRecord("/tmp/abs", "x"), END], /is absolute/],
      [
        "an entry outside the copied item",
        [
          encodeHeader({ type: "dir", path: "top", mode: 0o755 }),
          ...fileRecord("elsewhere/x", "x"),
          END,
        ],
        /outside the copied item/,
      ],
      [
        "an entry before its folder",
        [
          encodeHeader({ type: "dir", path: "top", mode: 0o755 }),
          ...fileRecord("top/sub/x", "x"),
          END,
        ],
        /comes before its folder/,
      ],
      ["a huge header length", [u32(0xffffffff)], /header of 4294967295 bytes is out of range/],
      [
        "a huge chunk length",
        [encodeHeader({ type: "file", path: "f", mode: 0o644 }), u32(0x7fffffff)],
        /chunk of 2147483647 bytes is over the limit/,
      ],
      [
        "a header that is not JSON",
        [u32(5), new TextEncoder().encode("{oops")],
        /not valid JSON/,
      ],
      ["an unknown header type", [encodeHeader({ type: "link" } as never)], /unknown archive/],
      ["a stream cut short", fileRecord("f", "content").slice(0, 2), /stops in the middle/],
      ["no end", fileRecord("f", "content"), /stops before its end/],
      ["bytes after the end", [...fileRecord("f", "x"), END, u32(1)], /bytes follow/],
    ] as const
  ) {
    it(`refuses ${name}, writing nothing outside the destination`, async () => {
      const { dir, dest } = await sandbox();
      await assert.rejects(receive([...parts], dest), error);
      assert.deepEqual(await names(dir), ["dest"]);
      // A file the stream began is not left behind, not even under its temporary name.
      const left = (await names(dest)).filter((n) => n !== "f" || name === "no end");
      assert.deepEqual(left.filter((n) => n.endsWith(".part")), []);
    });
  }

  it("keeps no file whose sha256 does not match, not even its temporary one", async () => {
    const { dest } = await sandbox();
    await assert.rejects(
      receive([...fileRecord("f", "content", new Uint8Array(32)), END], dest),
      /"[^"]*f": sha256 mismatch/,
    );
    assert.deepEqual(await names(dest), []);
  });

  it("does not write through a symbolic link already at the destination", async () => {
    const { dir, dest } = await sandbox();
    await Deno.mkdir(join(dir, "outside"));
    await Deno.symlink(join(dir, "outside"), join(dest, "top"));
    await assert.rejects(
      receive([
        encodeHeader({ type: "dir", path: "top", mode: 0o755 }),
        ...fileRecord("top/x", "x"),
        END,
      ], dest),
      /exists and is not a directory/,
    );
    assert.deepEqual(await names(join(dir, "outside")), []);
  });

  it("takes a file's destination name when the destination is not a folder", async () => {
    const { dest } = await sandbox();
    const got = await receive([...fileRecord("f", "hello"), END], join(dest, "renamed"));
    assert.equal(await Deno.readTextFile(join(dest, "renamed")), "hello");
    assert.equal(got.sha256, createHash("sha256").update("hello").digest("hex"));
    await assert.rejects(
      receive([...fileRecord("f", "hello"), END], join(dest, "no", "such")),
      /no such directory/,
    );
  });
});
