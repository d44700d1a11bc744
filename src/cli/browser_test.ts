/** Tests for browserCommand: a browser is opened only where one can show up, never in CI. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { browserCommand } from "./browser.ts";

async function pathWith(name: string): Promise<string> {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(join(dir, name), "#!/bin/sh\n");
  return dir;
}

describe("browserCommand()", () => {
  it("finds xdg-open on Linux with a display", async () => {
    const dir = await pathWith("xdg-open");
    const env = (name: string) => ({ PATH: dir, DISPLAY: ":0" } as Record<string, string>)[name];
    assert.equal(browserCommand({ env, os: "linux" }), join(dir, "xdg-open"));
  });

  it("opens nothing in CI, over SSH, without a display, or without the command", async () => {
    const dir = await pathWith("xdg-open");
    const base = { PATH: dir, DISPLAY: ":0" } as Record<string, string>;
    const extras: Record<string, string>[] = [
      { CI: "true" },
      { SSH_CONNECTION: "1 2 3 4" },
      { DISPLAY: "" },
    ];
    for (const extra of extras) {
      const values: Record<string, string> = { ...base, ...extra };
      assert.equal(browserCommand({ env: (n) => values[n], os: "linux" }), undefined);
    }
    const empty = await Deno.makeTempDir();
    const none = { PATH: empty, DISPLAY: ":0" } as Record<string, string>;
    assert.equal(browserCommand({ env: (n) => none[n], os: "linux" }), undefined);
    assert.equal(browserCommand({ env: (n) => base[n], os: "windows" }), undefined);
  });
});
