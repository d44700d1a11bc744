/** WorkspaceService: the workspaces the caller may act in. */
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { WorkspaceService } from "../../../gen/cmdop/v1/workspace_pb.ts";
import {
  type AccessTokenResolver,
  authenticateClient,
  authenticateMember,
  bearerToken,
  SecretPrefix,
} from "../auth.ts";
import type { RelayDeps } from "../deps.ts";
import { hashSecret } from "../../lib/secrets.ts";
import { actorOf, peerOf } from "../audit/audit_log.ts";

/**
 * Lists every workspace of a login access token's user (checking the token itself), so
 * that `workspace sync` works before the client knows which workspace to name.
 */
export type UserWorkspaceLister = (
  accessToken: string,
  peer: string,
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
        // Recorded as `workspace.sync` in each workspace listed (the lister knows the user).
        const list = await listUserWorkspaces(token, peerOf(ctx.requestHeader));
        return { workspaces: list.map((w) => ({ ...w, server })) };
      }
      // An API key or a share link sees only the one workspace it belongs to.
      const principal = await authenticateClient(deps, ctx.requestHeader, resolveAccessToken);
      const workspace = await deps.store.workspaceById(principal.workspaceId);
      return {
        workspaces: workspace ? [{ id: workspace.id, name: workspace.name, server }] : [],
      };
    },

    async listApiKeys(_req, ctx) {
      const principal = await authenticateMember(
        deps,
        ctx.requestHeader,
        "list API keys",
        resolveAccessToken,
      );
      const own = principal.via === "api_key"
        ? await hashSecret(bearerToken(ctx.requestHeader))
        : "";
      const keys = (await deps.store.listCredentials(principal.workspaceId))
        .filter((c) => c.kind === "api_key");
      return {
        apiKeys: keys.map((k) => ({
          fingerprint: k.fingerprint,
          createdMs: BigInt(k.createdMs),
          current: own.startsWith(k.fingerprint),
        })),
      };
    },

    async revokeApiKey(req, ctx) {
      const principal = await authenticateMember(
        deps,
        ctx.requestHeader,
        "revoke API keys",
        resolveAccessToken,
      );
      const prefix = req.fingerprint.trim().toLowerCase();
      if (!/^[0-9a-f]{8,64}$/.test(prefix)) {
        throw new ConnectError(
          `"${req.fingerprint}" is not a fingerprint: give 8 to 64 hex digits`,
          Code.InvalidArgument,
        );
      }
      // One key per call: a short prefix shared by two keys must not revoke both.
      const matches = (await deps.store.listCredentials(principal.workspaceId)).filter((c) =>
        c.kind === "api_key" && c.fingerprint.startsWith(prefix.slice(0, c.fingerprint.length))
      );
      if (matches.length > 1) {
        throw new ConnectError(
          `fingerprint ${prefix} matches ${matches.length} API keys; give more digits`,
          Code.FailedPrecondition,
        );
      }
      const revoked = matches.length
        ? await deps.store.deleteApiKeys(principal.workspaceId, prefix)
        : 0;
      if (revoked === 0) {
        throw new ConnectError(`no API key ${prefix} in this workspace`, Code.NotFound);
      }
      deps.log(`API key ${prefix} of workspace ${principal.workspaceId} revoked by a member`);
      deps.audit.record({
        workspaceId: principal.workspaceId,
        kind: "key.revoked",
        actor: actorOf(principal),
        peer: peerOf(ctx.requestHeader),
        detail: { fingerprint: matches[0].fingerprint },
      });
      return { revoked };
    },
  });
}
