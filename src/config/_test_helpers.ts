/** Shared fixtures for the tests of `src/config/`: temporary homes, file modes, raw bytes. */

import { join } from "node:path";

const tempDirs: string[] = [];
globalThis.addEventListener("unload", () => {
  for (const dir of tempDirs) Deno.removeSync(dir, { recursive: true });
});

/** A fresh, empty CMDOP_HOME that does not exist yet, inside a temporary folder removed at exit. */
export async function makeTempHome(): Promise<string> {
  const parent = await Deno.makeTempDir({ prefix: "cmdop_config_test_" });
  tempDirs.push(parent);
  return join(parent, "home");
}

/** Permission bits of a file or folder, e.g. `0o600`. */
export async function modeOf(path: string): Promise<number> {
  return (await Deno.stat(path)).mode! & 0o777;
}

/** Writes raw text, creating the folder, without going through cmdop's writer. */
export async function writeRaw(path: string, text: string): Promise<void> {
  await Deno.mkdir(join(path, ".."), { recursive: true });
  await Deno.writeTextFile(path, text);
}

/** Reads raw JSON, without going through cmdop's reader. */
export async function readRawJson(path: string): Promise<unknown> {
  return JSON.parse(await Deno.readTextFile(path));
}

/** An env lookup backed by a plain object. */
export function fakeEnv(
  values: Record<string, string>,
): (name: string) => string | undefined {
  return (name) => values[name];
}

/** Every file in a folder, for checking that no temporary files were left behind. */
export async function listNames(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}
