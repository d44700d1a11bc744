/** WorkspaceService: the workspaces the caller may act in. */
import type { ConnectRouter } from "@connectrpc/connect";
import { WorkspaceService } from "../../../gen/cmdop/v1/workspace_pb.ts";
import {
  type AccessTokenResolver,
  authenticateClient,
  bearerToken,
  SecretPrefix,
} from "../auth.ts";
import type { RelayDeps } from "../deps.ts";

/**
 * Lists every workspace of a login access token's user (checking the token itself), so
 * that `workspace sync` works before the client knows which workspace to name.
 */
export type UserWorkspaceLister = (
  accessToken: string,
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
      const server = deps.publicUrl;
      const token = bearerToken(ctx.requestHeader);
      if (listUserWorkspaces && token.startsWith(`${SecretPrefix.accessToken}_`)) {
        const list = await listUserWorkspaces(token);
        return { workspaces: list.map((w) => ({ ...w, server })) };
      }
      // An API key or a share link sees only the one workspace it belongs to.
      const principal = await authenticateClient(deps, ctx.requestHeader, resolveAccessToken);
      const workspace = await deps.store.workspaceById(principal.workspaceId);
      return {
        workspaces: workspace ? [{ id: workspace.id, name: workspace.name, server }] : [],
      };
    },
  });
}
