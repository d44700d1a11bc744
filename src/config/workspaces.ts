/** The local workspace list `ssh_workspaces.json`: which workspace is active and each one's API key. */

import { ConfigError } from "./errors.ts";
import { readJsonFile, updateJsonFile } from "./json_file.ts";
import { configFilePath } from "./paths.ts";
import {
  expectArray,
  expectObject,
  expectString,
  expectVersion,
  fieldPath,
  optionalString,
  ShapeError,
} from "./_validate.ts";

/**
 * One workspace as stored locally.
 *
 * `server` is an override the user set and `workspace sync` never changes;
 * `synced_server` is the relay URL the relay reported at the last sync.
 */
export interface Workspace {
  name: string;
  /** The relay's id of the workspace, known after `workspace sync`. */
  workspace_id?: string;
  api_key?: string;
  server?: string;
  synced_server?: string;
}

/**
 * The content of `CMDOP_HOME/ssh_workspaces.json` (mode 0600):
 * `{ "version": 1, "active": "<name>" | null, "workspaces": [Workspace, …] }`.
 * Names are unique and `active`, when set, is one of them.
 */
export interface WorkspacesFile {
  version: 1;
  active: string | null;
  workspaces: Workspace[];
}

/** The workspace `setApiKey` creates when there is none at all. */
export const DEFAULT_WORKSPACE_NAME = "default";

const WORKSPACE_FIELDS = [
  "workspace_id",
  "api_key",
  "server",
  "synced_server",
] as const;

/**
 * Validates a parsed `ssh_workspaces.json`.
 *
 * @example
 * ```ts
 * parseWorkspacesFile({ active: null, workspaces: [] }); // { version: 1, active: null, workspaces: [] }
 * ```
 */
export function parseWorkspacesFile(value: unknown): WorkspacesFile {
  const root = expectObject(value, "");
  expectVersion(root.version, 1);
  const workspaces = expectArray(
    root.workspaces ?? [],
    "workspaces",
    (item, field) => {
      const entry = expectObject(item, field);
      const workspace: Workspace = {
        name: expectString(entry.name, fieldPath(field, "name")),
      };
      if (workspace.name === "") {
        throw new ShapeError(fieldPath(field, "name"), "must not be empty");
      }
      for (const key of WORKSPACE_FIELDS) {
        const text = optionalString(entry[key], fieldPath(field, key));
        if (text !== undefined) workspace[key] = text;
      }
      return workspace;
    },
  );
  workspaces.forEach((workspace, index) => {
    if (
      workspaces.findIndex((other) => other.name === workspace.name) !== index
    ) {
      throw new ShapeError(
        `workspaces[${index}].name`,
        `repeats the name "${workspace.name}"`,
      );
    }
  });
  const active = optionalString(root.active, "active") ?? null;
  if (active !== null && !workspaces.some((w) => w.name === active)) {
    throw new ShapeError(
      "active",
      `names "${active}", which is not in workspaces`,
    );
  }
  return { version: 1, active, workspaces };
}

/**
 * The workspace file, or an empty one when it does not exist yet.
 *
 * @example
 * ```ts
 * const { active, workspaces } = await readWorkspaces("/home/u/.cmdop");
 * ```
 */
export async function readWorkspaces(home: string): Promise<WorkspacesFile> {
  const path = configFilePath(home, "workspaces");
  return (await readJsonFile(path, parseWorkspacesFile)) ?? emptyFile();
}

/**
 * Locked read-modify-write of the workspace file; `change` may mutate and return the
 * file it gets (an empty one when missing), or return `undefined` to write nothing.
 *
 * @example
 * ```ts
 * await updateWorkspaces(home, (file) => {
 *   file.active = null;
 *   return file;
 * });
 * ```
 */
export async function updateWorkspaces(
  home: string,
  change: (file: WorkspacesFile) => WorkspacesFile | undefined,
): Promise<WorkspacesFile> {
  const path = configFilePath(home, "workspaces");
  const result = await updateJsonFile(
    path,
    (current) => change(current ?? emptyFile()),
    parseWorkspacesFile,
  );
  return result ?? emptyFile();
}

/**
 * Every workspace, in file order, each marked whether it is the active one.
 *
 * @example
 * ```ts
 * for (const w of await listWorkspaces(home)) console.log(w.active ? "*" : " ", w.name);
 * ```
 */
export async function listWorkspaces(
  home: string,
): Promise<Array<Workspace & { active: boolean }>> {
  const file = await readWorkspaces(home);
  return file.workspaces.map((w) => ({ ...w, active: w.name === file.active }));
}

/**
 * The named workspace, or `undefined`.
 *
 * @example
 * ```ts
 * const prod = await getWorkspace(home, "prod");
 * ```
 */
export async function getWorkspace(
  home: string,
  name: string,
): Promise<Workspace | undefined> {
  return (await readWorkspaces(home)).workspaces.find((w) => w.name === name);
}

/**
 * The active workspace, or `undefined` when none is active.
 *
 * @example
 * ```ts
 * const active = await getActiveWorkspace(home);
 * ```
 */
export async function getActiveWorkspace(
  home: string,
): Promise<Workspace | undefined> {
  const file = await readWorkspaces(home);
  return file.workspaces.find((w) => w.name === file.active);
}

/**
 * Makes `name` the active workspace; a {@linkcode WorkspaceNotFoundError} listing the
 * known names when there is no such workspace. With `server`, also sets that
 * workspace's server override, creating the workspace when it is new.
 *
 * @example
 * ```ts
 * await useWorkspace(home, "prod");
 * await useWorkspace(home, "staging", "https://relay.staging.example");
 * ```
 */
export async function useWorkspace(
  home: string,
  name: string,
  server?: string,
): Promise<Workspace & { created: boolean }> {
  let chosen: (Workspace & { created: boolean }) | undefined;
  await updateWorkspaces(home, (file) => {
    let target = file.workspaces.find((w) => w.name === name);
    const created = target === undefined && server !== undefined;
    if (created) {
      if (name.trim() === "") throw new ConfigError("the workspace name is empty");
      target = { name };
      file.workspaces.push(target);
    }
    target ??= findOrThrow(file, name);
    if (server !== undefined) target.server = server;
    file.active = name;
    chosen = { ...target, created };
    return file;
  });
  return chosen!;
}

/**
 * Deletes a workspace locally (its API key goes with it); clears `active` if it was.
 *
 * @example
 * ```ts
 * const { wasActive } = await removeWorkspace(home, "staging");
 * ```
 */
export async function removeWorkspace(
  home: string,
  name: string,
): Promise<{ removed: Workspace; wasActive: boolean }> {
  let outcome: { removed: Workspace; wasActive: boolean } | undefined;
  await updateWorkspaces(home, (file) => {
    const removed = findOrThrow(file, name);
    outcome = { removed, wasActive: file.active === name };
    file.workspaces = file.workspaces.filter((w) => w !== removed);
    if (outcome.wasActive) file.active = null;
    return file;
  });
  return outcome!;
}

/**
 * A workspace name that is not in `ssh_workspaces.json`; the hint lists the known ones.
 *
 * @example
 * ```ts
 * throw new WorkspaceNotFoundError("prdo", ["prod", "staging"]);
 * ```
 */
export class WorkspaceNotFoundError extends ConfigError {
  constructor(readonly workspace: string, readonly known: string[]) {
    super(`workspace "${workspace}" is not known`, {
      hint: known.length > 0
        ? `known workspaces: ${known.map((n) => `"${n}"`).join(", ")}`
        : `there are no workspaces yet: run "cmdop connect workspace sync" or "cmdop connect key set <KEY>"`,
    });
    this.name = "WorkspaceNotFoundError";
  }
}

/** Looks a workspace up by name inside a loaded file, throwing {@linkcode WorkspaceNotFoundError}. */
export function findOrThrow(file: WorkspacesFile, name: string): Workspace {
  const found = file.workspaces.find((w) => w.name === name);
  if (!found) {
    throw new WorkspaceNotFoundError(name, file.workspaces.map((w) => w.name));
  }
  return found;
}

function emptyFile(): WorkspacesFile {
  return { version: 1, active: null, workspaces: [] };
}
