/** `cmdop connect workspace sync`: pull the logged-in user's workspaces from the relay and upsert them. */
import { loadLoginTokens } from "../../../config/auth_tokens.ts";
import { configFilePath } from "../../../config/paths.ts";
import { upsertWorkspacesFromServer } from "../../../config/workspace_sync.ts";
import { normaliseServer } from "../../access.ts";
import type { CliContext } from "../../context.ts";
import { CliError, ExitCode } from "../../errors.ts";
import type { GlobalOptions, RunState } from "../../globals.ts";
import { LOGIN_AGAIN_HINT } from "../../login_session.ts";
import { openRelayConnection } from "../../relay_client.ts";

/**
 * Needs `cmdop login`: lists the user's workspaces on the relay that issued the login
 * (`WorkspaceService.ListWorkspaces`) and merges them into `ssh_workspaces.json`,
 * keeping local API keys and server overrides and deleting nothing.
 *
 * @example
 * ```ts
 * await runWorkspaceSync(ctx, globals, state);
 * ```
 */
export async function runWorkspaceSync(
  ctx: CliContext,
  globals: GlobalOptions,
  state: RunState,
): Promise<void> {
  const home = ctx.home();
  const login = await loadLoginTokens(home);
  if (!login) {
    throw new CliError("workspace sync needs a login", {
      exitCode: ExitCode.auth,
      hint: 'run "cmdop login" first',
    });
  }
  const server = normaliseServer(login.server);
  if (globals.server && normaliseServer(globals.server) !== server) {
    throw new CliError(`the login is for "${server}", not "${globals.server}"`, {
      exitCode: ExitCode.auth,
      hint: `${LOGIN_AGAIN_HINT} with --server ${globals.server}`,
    });
  }
  const source = `login token in ${configFilePath(home, "auth")} (cmdop login)`;
  const conn = await openRelayConnection(ctx, state, {
    server,
    serverSource: `login server in ${source}`,
    credential: login.access_token,
    credentialSource: source,
    kind: "login_token",
    home,
    login,
  });
  const { workspaces } = await conn.workspaces.listWorkspaces({}, { signal: ctx.signal });
  const result = await upsertWorkspacesFromServer(
    home,
    workspaces.map((w) => ({ id: w.id, name: w.name, server: w.server })),
  );
  if (globals.json) {
    await ctx.stdout.write(
      JSON.stringify({
        added: result.added,
        updated: result.updated,
        unchanged: result.unchanged,
        not_on_server: result.notOnServer,
        conflicts: result.conflicts,
        active: result.active,
      }) + "\n",
    );
    return;
  }
  const lines: string[] = [];
  for (const name of result.added) lines.push(`added     "${name}"`);
  for (const name of result.updated) lines.push(`updated   "${name}"`);
  for (const name of result.unchanged) lines.push(`unchanged "${name}"`);
  if (workspaces.length === 0) lines.push("this login belongs to no workspace yet");
  await ctx.stdout.write(lines.map((l) => l + "\n").join(""));
  for (const conflict of result.conflicts) {
    await ctx.stderr.write(`warning: skipped "${conflict.name}": ${conflict.reason}\n`);
  }
  if (result.notOnServer.length > 0) {
    const names = result.notOnServer.map((n) => `"${n}"`).join(", ");
    await ctx.stderr.write(`note: no longer on the relay, kept locally: ${names}\n`);
  }
  if (result.active) await ctx.stderr.write(`active workspace: "${result.active}"\n`);
}
