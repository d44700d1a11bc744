import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as node from "node:path";
import { basename, dirname, join } from "./_path.ts";

const PATHS = [
  "",
  "/",
  "//",
  "///",
  ".",
  "..",
  "a",
  "a/",
  "/a",
  "/a/",
  "a/b",
  "/a/b/",
  "a//b",
  "/a/./b",
  "a/../b",
  "../a",
  "/../a",
  "a/..",
  "a/../..",
  "./a/./",
  "/home/u/.cmdop",
  "/tmp/x/workspaces.json",
  "rel/dir/",
  "/a/b/../../..",
  "..a/b",
  "a/.../b",
  "//a//b//",
];

describe("config paths", () => {
  it("join, dirname and basename answer as node:path does", () => {
    for (const p of PATHS) {
      assert.equal(dirname(p), node.dirname(p), `dirname(${JSON.stringify(p)})`);
      assert.equal(basename(p), node.basename(p), `basename(${JSON.stringify(p)})`);
      for (const q of ["", ".cmdop", "auth.json", "../x", "/abs", "./y/"]) {
        assert.equal(
          join(p, q),
          node.join(p, q),
          `join(${JSON.stringify(p)}, ${JSON.stringify(q)})`,
        );
      }
    }
    assert.equal(join(), node.join());
    assert.equal(join("a", "", "b"), node.join("a", "", "b"));
  });
});
