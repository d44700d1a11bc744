/** `cmdop logout`: revoke the `cmdop login` tokens on the relay and forget them locally. */
import { clearLoginTokens, loadLoginTokens } from "../../config/auth_tokens.ts";
import { normaliseServer } from "../access.ts";
import type { CliContext } from "../context.ts";
import { revokeToken } from "../oauth_client.ts";
import { relayFetch } from "../relay_client.ts";

/**
 * Revokes the login on its relay (best effort: an unreachable relay still gets the
 * local tokens deleted, with a warning) and deletes `auth.json`. Not being logged in is
 * not an error.
 *
 * @example
 * ```ts
 * await runLogout(ctx, { json: false });
 * ```
 */
export async function runLogout(ctx: CliContext, options: { json: boolean }): Promise<void> {
  const home = ctx.home();
  const login = await loadLoginTokens(home);
  let revoked = false;
  if (login) {
    const target = {
      server: normaliseServer(login.server),
      fetch: await relayFetch(ctx) ?? globalThis.fetch,
      signal: ctx.signal,
    };
    try {
      await revokeToken(target, login.refresh_token ?? login.access_token);
      revoked = true;
    } catch (error) {
      await ctx.stderr.write(
        `warning: could not revoke the login on ${target.server}: ${(error as Error).message}\n`,
      );
    }
    await clearLoginTokens(home);
  }
  if (options.json) {
    await ctx.stdout.write(JSON.stringify({ logged_out: login !== undefined, revoked }) + "\n");
    return;
  }
  await ctx.stdout.write(login ? `logged out of ${login.server}\n` : "not logged in\n");
}
