/** Where cmdop keeps its client files: the CMDOP_HOME folder and the file names inside it. */

import { join } from "./_path.ts";
import { ConfigError } from "./errors.ts";

/**
 * The config folder: `CMDOP_HOME`, else `$HOME/.cmdop`, else `$USERPROFILE/.cmdop`
 * (Windows). Empty variables count as unset. This is the one function of
 * `src/config/` that looks at the environment, and only through `env`.
 *
 * @example
 * ```ts
 * const home = resolveHome((name) => Deno.env.get(name));
 * ```
 */
export function resolveHome(env: (name: string) => string | undefined): string {
  const explicit = env("CMDOP_HOME");
  if (explicit) return explicit;
  const userHome = env("HOME") || env("USERPROFILE");
  if (userHome) return join(userHome, ".cmdop");
  throw new ConfigError("cannot tell where the cmdop config folder is", {
    hint: "set CMDOP_HOME (or HOME) to a folder cmdop may write to",
  });
}

/** File names inside CMDOP_HOME, fixed by the spec page or by earlier cmdop versions. */
export const CONFIG_FILE_NAMES = {
  /** Workspaces and their API keys (name fixed by the spec page). */
  workspaces: "ssh_workspaces.json",
  /** The legacy config of earlier cmdop versions, holding `Chat.GrpcAPIKey`. */
  legacyConfig: "config.json",
  /** Tokens from `cmdop login`. */
  auth: "auth.json",
  /** Remembered attach passwords, per workspace and machine. */
  machinePasswords: "machine_passwords.json",
  /** When each machine was last used, for ordering the picker. */
  recent: "recent.json",
} as const;

/**
 * The full path of one of cmdop's files.
 *
 * @example
 * ```ts
 * configFilePath("/home/u/.cmdop", "workspaces"); // "/home/u/.cmdop/ssh_workspaces.json"
 * ```
 */
export function configFilePath(
  home: string,
  file: keyof typeof CONFIG_FILE_NAMES,
): string {
  return join(home, CONFIG_FILE_NAMES[file]);
}
