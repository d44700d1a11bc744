/** resolveAccess: which relay to call and with which credential, each with the place it came from. */
import type { LoginTokens } from "../config/auth_tokens.ts";
import { resolveConnection, resolveServer } from "../config/credentials.ts";
import {
  MACHINE_CREDENTIAL_VARIABLE,
  readMachineCredential,
} from "../config/machine_credential.ts";
import type { CliContext } from "./context.ts";
import { CliError, ExitCode } from "./errors.ts";
import type { GlobalOptions } from "./globals.ts";
import { LOGIN_AGAIN_HINT } from "./login_session.ts";

/** A relay, a credential, and where each came from. */
export interface ResolvedAccess {
  server: string;
  serverSource: string;
  credential: string;
  credentialSource: string;
  /**
   * What the credential is; login tokens are refreshed, share links reach one machine, a
   * machine credential acts as its machine (when its workspace allows that).
   */
  kind: "api_key" | "login_token" | "share_link" | "machine_credential";
  /** CMDOP_HOME; `undefined` for a share link, which needs no local state. */
  home?: string;
  /** The whole login, when `kind` is `login_token`. */
  login?: LoginTokens;
  /** Workspace a user-scoped login token acts in: its relay id, else its local name. */
  workspaceHint?: string;
}

/**
 * Resolves server and credential with the spec's chain: `--api-key`,
 * `CMDOP_API_KEY`, the `--workspace` key, the active workspace's key, the legacy key,
 * then the `cmdop login` token. A login token goes only to the relay that issued it.
 *
 * @example
 * ```ts
 * const { server, credential, credentialSource } = await resolveAccess(ctx, globals);
 * ```
 */
export async function resolveAccess(
  ctx: CliContext,
  globals: GlobalOptions,
): Promise<ResolvedAccess> {
  const home = ctx.home();
  const flags = { apiKey: globals.apiKey, server: globals.server, workspace: globals.workspace };
  const machine = await machineAccess(ctx, globals, home);
  if (machine) return machine;
  const { credential, server } = await resolveConnection({ home, env: ctx.env, flags });
  const access: ResolvedAccess = {
    server: normaliseServer(server.server),
    serverSource: server.source,
    credential: credential.credential,
    credentialSource: credential.source,
    kind: credential.kind,
    home,
  };
  if (credential.kind !== "login_token" || !credential.login) return access;
  const issuer = normaliseServer(credential.login.server);
  const explicit = server.source === "--server flag" ||
    server.source === "CMDOP_SERVER environment variable";
  if (explicit && access.server !== issuer) {
    // Sending the token elsewhere would hand it to a relay that did not issue it.
    throw new CliError(
      `the login token is for "${issuer}", not "${access.server}" (${server.source})`,
      { exitCode: ExitCode.auth, hint: `${LOGIN_AGAIN_HINT} with --server ${access.server}` },
    );
  }
  const workspace = credential.workspace;
  return {
    ...access,
    server: issuer,
    serverSource: `login server in ${credential.source}`,
    login: credential.login,
    workspaceHint: workspace?.workspace_id ?? workspace?.name,
  };
}

/**
 * The machine credential, when one is asked for: `--machine-credential FILE`, else
 * `CMDOP_MACHINE_CREDENTIAL` unless `CMDOP_API_KEY` is set (an explicit key wins over the
 * variable, as a flag wins over both). Never looked for on its own: acting as the machine
 * is always a choice. Its relay is `--server`, `CMDOP_SERVER`, else the one in the file.
 */
async function machineAccess(
  ctx: CliContext,
  globals: GlobalOptions,
  home: string,
): Promise<ResolvedAccess | undefined> {
  const flag = globals.machineCredential?.trim();
  const variable = ctx.env(MACHINE_CREDENTIAL_VARIABLE)?.trim();
  if (flag && globals.apiKey?.trim()) {
    throw new CliError("give either --api-key or --machine-credential, not both");
  }
  if (!flag && (!variable || globals.apiKey?.trim() || ctx.env("CMDOP_API_KEY")?.trim())) {
    return undefined;
  }
  if (globals.workspace !== undefined) {
    throw new CliError("--workspace cannot be combined with a machine credential", {
      hint: "a machine acts in its own workspace only",
    });
  }
  const path = (flag || variable)!;
  const source = flag
    ? `machine credential in ${path} (--machine-credential)`
    : `machine credential in ${path} (${MACHINE_CREDENTIAL_VARIABLE})`;
  const machine = await readMachineCredential(path);
  const explicit = globals.server?.trim() || ctx.env("CMDOP_SERVER")?.trim();
  const server = explicit || !machine.server
    ? await resolveServer({ home, env: ctx.env, flags: { server: globals.server } })
    : { server: machine.server, source: `server in ${path}` };
  return {
    server: normaliseServer(server.server),
    serverSource: server.source,
    credential: machine.credential,
    credentialSource: source,
    kind: "machine_credential",
    home,
  };
}

/** Accepts `host:port` as well as a URL. */
export function normaliseServer(value: string): string {
  const withScheme = /^[a-z]+:\/\//i.test(value) ? value : `http://${value}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new CliError(`server "${value}" is not a valid URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new CliError(`server "${value}" must be an http:// or https:// URL`);
  }
  return url.origin + url.pathname.replace(/\/+$/, "");
}
