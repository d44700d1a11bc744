/** Merging the relay's workspace list into `ssh_workspaces.json` for `cmdop connect workspace sync`. */

import { updateWorkspaces, type Workspace } from "./workspaces.ts";

/** A workspace as the relay lists it (`cmdop.v1.Workspace`). */
export interface RemoteWorkspace {
  id: string;
  name: string;
  /** The relay's public URL; empty when it did not say. */
  server?: string;
}

/** What a sync changed, by workspace name (names after the sync). */
export interface WorkspaceSyncResult {
  added: string[];
  updated: string[];
  unchanged: string[];
  /** Local workspaces with a `workspace_id` the relay no longer lists; kept, not deleted. */
  notOnServer: string[];
  /** Relay workspaces left alone because their name is taken by a different local one. */
  conflicts: Array<{ name: string; id: string; reason: string }>;
  active: string | null;
}

/**
 * Upserts the relay's authoritative list. A remote workspace matches the local entry
 * with the same `workspace_id`, else a local entry of the same name that has no id yet.
 * Matches take the remote name and id and `synced_server`; local API keys and local
 * `server` overrides are kept. Unmatched remote workspaces are added, unless their
 * name belongs to a different local workspace (reported in `conflicts`). Nothing is
 * deleted. When no workspace was active, the first one the relay listed becomes active.
 *
 * @example
 * ```ts
 * const result = await upsertWorkspacesFromServer(home, [{ id: "w1", name: "prod", server: "https://relay.example" }]);
 * ```
 */
export async function upsertWorkspacesFromServer(
  home: string,
  remote: RemoteWorkspace[],
): Promise<WorkspaceSyncResult> {
  const result: WorkspaceSyncResult = {
    added: [],
    updated: [],
    unchanged: [],
    notOnServer: [],
    conflicts: [],
    active: null,
  };
  const file = await updateWorkspaces(home, (file) => {
    for (const incoming of remote) {
      const local = file.workspaces.find((w) => w.workspace_id === incoming.id) ??
        file.workspaces.find((w) => w.name === incoming.name && w.workspace_id === undefined);
      const holder = file.workspaces.find((w) => w.name === incoming.name);
      if (holder && holder !== local) {
        result.conflicts.push({
          name: incoming.name,
          id: incoming.id,
          reason: `the name "${incoming.name}" is used by another local workspace`,
        });
        if (local) applyRemote(local, { ...incoming, name: local.name });
        continue;
      }
      if (!local) {
        file.workspaces.push(applyRemote({ name: incoming.name }, incoming));
        result.added.push(incoming.name);
        continue;
      }
      const before = JSON.stringify(local);
      if (file.active === local.name) file.active = incoming.name;
      applyRemote(local, incoming);
      (JSON.stringify(local) === before ? result.unchanged : result.updated)
        .push(
          local.name,
        );
    }
    const remoteIds = new Set(remote.map((w) => w.id));
    result.notOnServer = file.workspaces
      .filter((w) => w.workspace_id !== undefined && !remoteIds.has(w.workspace_id))
      .map((w) => w.name);
    if (file.active === null && remote.length > 0) {
      file.active = file.workspaces.find((w) => w.workspace_id === remote[0].id)
        ?.name ?? null;
    }
    return file;
  });
  result.active = file.active;
  return result;
}

function applyRemote(local: Workspace, incoming: RemoteWorkspace): Workspace {
  local.name = incoming.name;
  local.workspace_id = incoming.id;
  if (incoming.server) local.synced_server = incoming.server;
  else delete local.synced_server;
  return local;
}
