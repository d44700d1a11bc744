/** Login tokens on the relay: issuing, refreshing with rotation, revoking, and resolving them on each call. */
import { Code, ConnectError } from "@connectrpc/connect";
import { hashSecret, newId, newSecret } from "../../lib/secrets.ts";
import { type AccessTokenResolver, SecretPrefix } from "../auth.ts";
import type { UserWorkspaceLister } from "../services/workspace_service.ts";
import { auditLogin } from "./login_audit.ts";
import type { LoginContext } from "./login_context.ts";

export type { LoginContext } from "./login_context.ts";

/** A token endpoint error, shaped as RFC 6749 section 5.2 wants it. */
export class OAuthError extends Error {
  constructor(readonly code: string, description: string, readonly status = 400) {
    super(description);
    this.name = "OAuthError";
  }
}

/** The JSON body of a successful token response. */
export interface TokenResponse {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  refresh_token: string;
  refresh_token_expires_in: number;
  user?: { id: string; email: string };
}

/** Mints an access and a refresh token for a login (grant); a new grant when `grantId` is absent. */
export async function issueLoginTokens(
  ctx: LoginContext,
  userId: string,
  grantId?: string,
): Promise<TokenResponse> {
  const now = ctx.deps.now();
  if (!grantId) {
    grantId = newId();
    await ctx.store.insertGrant(grantId, userId, now);
  }
  const access = newSecret(SecretPrefix.accessToken);
  const refresh = newSecret(SecretPrefix.refreshToken);
  await ctx.store.insertLoginToken({
    tokenHash: await hashSecret(access),
    kind: "access",
    grantId,
    expiresMs: now + ctx.accessTtlMs,
  });
  await ctx.store.insertLoginToken({
    tokenHash: await hashSecret(refresh),
    kind: "refresh",
    grantId,
    expiresMs: now + ctx.refreshTtlMs,
  });
  return {
    access_token: access,
    token_type: "Bearer",
    expires_in: Math.floor(ctx.accessTtlMs / 1000),
    refresh_token: refresh,
    refresh_token_expires_in: Math.floor(ctx.refreshTtlMs / 1000),
  };
}

/**
 * The refresh_token grant. Each refresh token works once and is replaced; one presented
 * a second time means it leaked, so the whole login is revoked.
 */
export async function exchangeRefreshToken(
  ctx: LoginContext,
  refreshToken: string,
): Promise<TokenResponse> {
  const tokenHash = await hashSecret(refreshToken);
  const record = await ctx.store.loginToken(tokenHash);
  const now = ctx.deps.now();
  if (!record || record.kind !== "refresh" || record.grantRevokedMs !== null) {
    throw new OAuthError("invalid_grant", "refresh token is not valid or was revoked");
  }
  if (now >= record.expiresMs) throw new OAuthError("invalid_grant", "refresh token expired");
  if (!(await ctx.store.useRefreshToken(tokenHash, now))) {
    await ctx.store.revokeGrant(record.grantId, now);
    ctx.deps.log(`login ${record.grantId} revoked: a refresh token was used twice`);
    throw new OAuthError("invalid_grant", "refresh token was already used; the login is revoked");
  }
  return await issueLoginTokens(ctx, record.userId, record.grantId);
}

/**
 * RFC 7009: revokes the login an access or refresh token belongs to; unknown tokens are
 * fine. Returns the user of a login it revoked now.
 */
export async function revokeLoginToken(
  ctx: LoginContext,
  token: string,
): Promise<string | undefined> {
  const record = await ctx.store.loginToken(await hashSecret(token));
  if (!record || record.grantRevokedMs !== null) return undefined;
  await ctx.store.revokeGrant(record.grantId, ctx.deps.now());
  return record.userId;
}

async function userOfAccessToken(ctx: LoginContext, token: string): Promise<string> {
  const record = await ctx.store.loginToken(await hashSecret(token));
  if (!record || record.kind !== "access") {
    throw new ConnectError("login token is not valid", Code.Unauthenticated);
  }
  if (record.grantRevokedMs !== null) {
    throw new ConnectError("login token was revoked", Code.Unauthenticated);
  }
  if (ctx.deps.now() >= record.expiresMs) {
    throw new ConnectError("login token expired", Code.Unauthenticated, {
      "cmdop-reason": "token-expired",
    });
  }
  return record.userId;
}

/**
 * Resolves a login access token to the workspace it acts in: the one the
 * `cmdop-workspace` header names (by id or name) if the user belongs to it, or, with
 * no header, the user's only workspace.
 */
export function createAccessTokenResolver(ctx: LoginContext): AccessTokenResolver {
  return async (token, workspaceHint) => {
    const userId = await userOfAccessToken(ctx, token);
    const workspaces = await ctx.store.userWorkspaces(userId);
    const hint = workspaceHint?.trim();
    if (hint) {
      const chosen = workspaces.find((w) => w.id === hint) ??
        workspaces.find((w) => w.name === hint);
      if (!chosen) {
        throw new ConnectError(
          `this login has no access to workspace "${hint}"`,
          Code.PermissionDenied,
        );
      }
      return { kind: "workspace", workspaceId: chosen.id, via: "login_token", userId };
    }
    if (workspaces.length === 1) {
      return { kind: "workspace", workspaceId: workspaces[0].id, via: "login_token", userId };
    }
    if (workspaces.length === 0) {
      throw new ConnectError("this login belongs to no workspace", Code.PermissionDenied);
    }
    throw new ConnectError(
      `this login can act in ${workspaces.length} workspaces (${
        workspaces.map((w) => `"${w.name}"`).join(", ")
      }); run "cmdop connect workspace sync", then choose one with "cmdop connect workspace use <NAME>"`,
      Code.FailedPrecondition,
    );
  };
}

/** Lists every workspace of the token's user, for `workspace sync`; needs no workspace header. */
export function createUserWorkspaceLister(ctx: LoginContext): UserWorkspaceLister {
  return async (token, peer) => {
    const userId = await userOfAccessToken(ctx, token);
    const workspaces = (await ctx.store.userWorkspaces(userId))
      .map((w) => ({ id: w.id, name: w.name }));
    await auditLogin(ctx, userId, "workspace.sync", peer, workspaces);
    return workspaces;
  };
}
