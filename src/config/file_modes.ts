/** looseSecretFiles: cmdop's files that hold secrets but are open to other users (a file made by hand, a copy). */
import { configFilePath } from "./paths.ts";

/** The files in CMDOP_HOME that hold keys, tokens or passwords. */
const SECRET_FILES = ["workspaces", "auth", "machinePasswords", "legacyConfig"] as const;

/** A secret file and the permission bits that give others access to it. */
export interface LooseFile {
  path: string;
  /** Permission bits, e.g. `0o644`. */
  mode: number;
}

/**
 * The secret files in `home` that group or others may read or write (as ssh checks its
 * keys). Missing files and platforms without Unix modes (Windows) report nothing. cmdop
 * writes these files 0600, so the next change it makes tightens them.
 *
 * @example
 * ```ts
 * for (const { path, mode } of await looseSecretFiles(home)) console.warn(path, mode.toString(8));
 * ```
 */
export async function looseSecretFiles(home: string): Promise<LooseFile[]> {
  const found: LooseFile[] = [];
  for (const name of SECRET_FILES) {
    const path = configFilePath(home, name);
    let mode: number | null;
    try {
      mode = (await Deno.stat(path)).mode;
    } catch {
      // Missing or not ours to stat: the read that follows says what is wrong, if anything.
      continue;
    }
    if (mode !== null && (mode & 0o077) !== 0) found.push({ path, mode: mode & 0o777 });
  }
  return found;
}
