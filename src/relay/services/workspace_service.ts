/** WorkspaceService: the workspaces the caller may act in. */
import { type ConnectRouter } from "@connectrpc/connect";
import { WorkspaceService } from "../../../gen/cmdop/v1/workspace_pb.ts";
import { type AccessTokenResolver, authenticateClient } from "../auth.ts";
import type { RelayDeps } from "../deps.ts";

/** Lists workspaces for a login token's user; an API key sees only its own workspace. */
export type UserWorkspaceLister = (
  userId: string,
) => Promise<{ id: string; name: string }[]>;

/** Registers the workspace service. */
export function registerWorkspaceService(
  router: ConnectRouter,
  deps: RelayDeps,
  resolveAccessToken?: AccessTokenResolver,
  listUserWorkspaces?: UserWorkspaceLister,
): void {
  router.service(WorkspaceService, {
    async listWorkspaces(_req, ctx) {
      const principal = await authenticateClient(deps, ctx.requestHeader, resolveAccessToken);
      const server = deps.publicUrl;
      if (principal.kind === "workspace" && principal.userId && listUserWorkspaces) {
        const list = await listUserWorkspaces(principal.userId);
        return { workspaces: list.map((w) => ({ ...w, server })) };
      }
      const workspace = await deps.store.workspaceById(principal.workspaceId);
      return {
        workspaces: workspace ? [{ id: workspace.id, name: workspace.name, server }] : [],
      };
    },
  });
}
