/** Audit events of `cmdop login` users: a login is recorded in every workspace the user may act in. */
import type { LoginContext } from "./login_context.ts";

/**
 * Records `kind` (`login`, `logout`, `workspace.sync`) by the user, from `peer`, in each
 * of the user's workspaces: a login belongs to no single one, and each workspace's members
 * should see who signed in with access to it.
 *
 * @example
 * ```ts
 * await auditLogin(ctx, userId, "login", peer);
 * ```
 */
export async function auditLogin(
  ctx: LoginContext,
  userId: string,
  kind: string,
  peer: string,
  workspaces?: { id: string }[],
): Promise<void> {
  try {
    const user = await ctx.store.userById(userId);
    for (const workspace of workspaces ?? await ctx.store.userWorkspaces(userId)) {
      ctx.deps.audit.record({
        workspaceId: workspace.id,
        kind,
        actor: { kind: "login", id: userId },
        peer,
        detail: { email: user?.email },
      });
    }
  } catch (error) {
    // The login itself went through: an audit that cannot be written is logged, not returned.
    ctx.deps.log(`audit: cannot record ${kind} of user ${userId}`, {
      level: "error",
      error: error instanceof Error ? error.message : String(error),
    });
  }
}
