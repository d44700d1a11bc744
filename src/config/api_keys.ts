/** Workspace API keys in `ssh_workspaces.json`: `cmdop connect key set|get|clear` and masking for display. */

import { ConfigError } from "./errors.ts";
import {
  DEFAULT_WORKSPACE_NAME,
  findOrThrow,
  readWorkspaces,
  updateWorkspaces,
  type Workspace,
  type WorkspacesFile,
} from "./workspaces.ts";

/**
 * There is no active workspace and none was named.
 *
 * @example
 * ```ts
 * throw new NoActiveWorkspaceError(["prod", "staging"]);
 * ```
 */
export class NoActiveWorkspaceError extends ConfigError {
  constructor(readonly known: string[]) {
    super("no workspace is active", {
      hint: `choose one with "cmdop connect workspace use <NAME>" (known: ${
        known.map((n) => `"${n}"`).join(", ")
      }) or pass --workspace <NAME>`,
    });
    this.name = "NoActiveWorkspaceError";
  }
}

/**
 * Stores an API key. The target is `workspace` when given (created if it does not
 * exist yet, and made active only if nothing is active), else the active workspace.
 * With no workspace at all, a workspace named `default` is created and made active.
 * Workspaces exist but none is active and none named: {@linkcode NoActiveWorkspaceError}.
 * `server`, when given, becomes that workspace's server override.
 *
 * @example
 * ```ts
 * const { workspace, created } = await setApiKey(home, "cmdop_live_abc…");
 * ```
 */
export async function setApiKey(
  home: string,
  key: string,
  workspace?: string,
  server?: string,
): Promise<{ workspace: string; created: boolean }> {
  const apiKey = checkApiKey(key);
  const wanted = workspace?.trim();
  if (wanted === "") throw new ConfigError("the workspace name is empty");
  let outcome: { workspace: string; created: boolean } | undefined;
  await updateWorkspaces(home, (file) => {
    const name = wanted ?? file.active ??
      (file.workspaces.length === 0 ? DEFAULT_WORKSPACE_NAME : undefined);
    if (name === undefined) {
      throw new NoActiveWorkspaceError(file.workspaces.map((w) => w.name));
    }
    let target = file.workspaces.find((w) => w.name === name);
    outcome = { workspace: name, created: target === undefined };
    if (!target) {
      target = { name };
      file.workspaces.push(target);
    }
    if (file.active === null) file.active = name;
    target.api_key = apiKey;
    if (server !== undefined) target.server = server;
    return file;
  });
  return outcome!;
}

/**
 * The API key of `workspace`, or of the active one; `apiKey` is `undefined` when that
 * workspace has none. Unknown names and "nothing active" are errors.
 *
 * @example
 * ```ts
 * const { workspace, apiKey } = await getApiKey(home);
 * console.log(workspace, apiKey ? maskKey(apiKey) : "(no key)");
 * ```
 */
export async function getApiKey(
  home: string,
  workspace?: string,
): Promise<{ workspace: string; apiKey: string | undefined }> {
  const target = pickWorkspace(await readWorkspaces(home), workspace);
  return { workspace: target.name, apiKey: target.api_key || undefined };
}

/**
 * Removes the API key of `workspace`, or of the active one; `cleared` is `false` when
 * there was none. The workspace itself stays.
 *
 * @example
 * ```ts
 * await clearApiKey(home, "staging");
 * ```
 */
export async function clearApiKey(
  home: string,
  workspace?: string,
): Promise<{ workspace: string; cleared: boolean }> {
  let outcome: { workspace: string; cleared: boolean } | undefined;
  await updateWorkspaces(home, (file) => {
    const target = pickWorkspace(file, workspace);
    outcome = { workspace: target.name, cleared: target.api_key !== undefined };
    if (!outcome.cleared) return undefined;
    delete target.api_key;
    return file;
  });
  return outcome!;
}

/**
 * A key for display: first 4 and last 4 characters around `****`; keys shorter than
 * 16 characters are masked entirely, since showing 8 of them would give most away.
 *
 * @example
 * ```ts
 * maskKey("cmdop_0123456789abcdef"); // "cmdo****cdef"
 * maskKey("short"); // "****"
 * ```
 */
export function maskKey(key: string): string {
  if (key.length < 16) return "****";
  return `${key.slice(0, 4)}****${key.slice(-4)}`;
}

function pickWorkspace(file: WorkspacesFile, name?: string): Workspace {
  if (name !== undefined) return findOrThrow(file, name);
  const active = file.workspaces.find((w) => w.name === file.active);
  if (!active) {
    if (file.workspaces.length === 0) {
      throw new ConfigError("there are no workspaces yet", {
        hint:
          `store a key with "cmdop connect key set <KEY>" or run "cmdop connect workspace sync"`,
      });
    }
    throw new NoActiveWorkspaceError(file.workspaces.map((w) => w.name));
  }
  return active;
}

function checkApiKey(key: string): string {
  const trimmed = key.trim();
  if (trimmed === "") throw new ConfigError("the API key is empty");
  if (/\s/.test(trimmed)) {
    throw new ConfigError("the API key contains whitespace", {
      hint: "paste the key exactly as it was shown",
    });
  }
  return trimmed;
}
