/** The credential chain and server resolution of `cmdop connect`, each answer naming where it came from. */

import { ConfigError, ExitCode } from "./errors.ts";
import { loadLoginTokens, type LoginTokens } from "./auth_tokens.ts";
import { migrateLegacyApiKey, readLegacyApiKey } from "./legacy_config.ts";
import { configFilePath } from "./paths.ts";
import {
  findOrThrow,
  getActiveWorkspace,
  readWorkspaces,
  type Workspace,
  type WorkspacesFile,
} from "./workspaces.ts";

/**
 * No flag, variable, workspace or login names a relay. There is no default relay: one
 * picked silently would make "cannot reach" errors about an address nobody chose.
 *
 * @example
 * ```ts
 * throw new NoServerError();
 * ```
 */
export class NoServerError extends ConfigError {
  constructor(workspace?: string) {
    super(
      workspace === undefined
        ? "no relay server configured"
        : `no relay server configured for workspace "${workspace}"`,
      {
        hint: `pass --server URL, set CMDOP_SERVER, run "cmdop connect workspace use ${
          workspace ?? "NAME"
        } --server URL", or sign in with "cmdop login --server URL"`,
      },
    );
    this.name = "NoServerError";
  }
}

/** The global flags that take part in resolution. */
export interface ConnectionFlags {
  /** `--api-key`, `-k` */
  apiKey?: string;
  /** `--server`, `-s` */
  server?: string;
  /** `--workspace` */
  workspace?: string;
}

/** What resolution reads: the config folder, the environment and the flags. */
export interface ResolveInput {
  home: string;
  env: (name: string) => string | undefined;
  flags: ConnectionFlags;
}

/** A credential and, in words, exactly where it came from. */
export interface ResolvedCredential {
  credential: string;
  kind: "api_key" | "login_token";
  /** E.g. `CMDOP_API_KEY environment variable`; meant for error messages. */
  source: string;
  /**
   * The local workspace the call acts in: the one whose key was used, or for a login
   * token the `--workspace` or active one (its `workspace_id` tells the relay which of
   * the user's workspaces). `undefined` for keys from the flag or the environment.
   */
  workspace?: Workspace;
  /** The whole login when `kind` is `login_token`, for refreshing it. */
  login?: LoginTokens;
}

/**
 * No step of the chain had a credential (exit code 2); the hint lists the ways to give one.
 *
 * @example
 * ```ts
 * throw new MissingCredentialError();
 * ```
 */
export class MissingCredentialError extends ConfigError {
  constructor(workspace?: string) {
    super(
      workspace === undefined
        ? "no API key or login found"
        : `workspace "${workspace}" has no API key and no login was found`,
      {
        exitCode: ExitCode.auth,
        hint: `pass --api-key <KEY>, set CMDOP_API_KEY, run "cmdop connect key set <KEY>${
          workspace === undefined ? "" : ` --workspace ${workspace}`
        }", or run "cmdop login"`,
      },
    );
    this.name = "MissingCredentialError";
  }
}

/**
 * Walks the chain of the spec page, first hit wins:
 * 1. `--api-key`; 2. `CMDOP_API_KEY`; 3. the workspace named by `--workspace`;
 * 4. the active workspace's key; 5. the legacy `cfg.Chat.GrpcAPIKey`, moved into the
 * active workspace on first use; 6. the `cmdop login` access token.
 *
 * A `--workspace` that does not exist is an error (a typo must not fall back to
 * another workspace). One that exists without a key skips steps 4 and 5, which belong
 * to other workspaces, and goes to the login token, which is user-scoped. Empty or
 * blank values of flags and variables count as unset. Files are only read when the
 * chain gets to them. Nothing found: {@linkcode MissingCredentialError}.
 *
 * @example
 * ```ts
 * const { credential, kind, source } = await resolveCredential({ home, env: ctx.env, flags });
 * ```
 */
export async function resolveCredential(
  input: ResolveInput,
): Promise<ResolvedCredential> {
  const { home, env, flags } = input;
  const flagKey = nonBlank(flags.apiKey);
  if (flagKey) {
    return { credential: flagKey, kind: "api_key", source: "--api-key flag" };
  }
  const envKey = nonBlank(env("CMDOP_API_KEY"));
  if (envKey) {
    return {
      credential: envKey,
      kind: "api_key",
      source: "CMDOP_API_KEY environment variable",
    };
  }
  const workspacesPath = configFilePath(home, "workspaces");
  const file = await readWorkspaces(home);
  if (flags.workspace !== undefined) {
    const named = findOrThrow(file, flags.workspace);
    if (named.api_key) {
      const source = `workspace "${named.name}" in ${workspacesPath}`;
      return {
        credential: named.api_key,
        kind: "api_key",
        source,
        workspace: named,
      };
    }
    return await loginCredential(home, named) ??
      failMissing(flags.workspace);
  }
  const fromActive = activeKey(file, workspacesPath);
  if (fromActive) return fromActive;
  if (await readLegacyApiKey(home)) {
    const configPath = configFilePath(home, "legacyConfig");
    const outcome = await migrateLegacyApiKey(home);
    if (outcome.status === "migrated") {
      const source = `legacy cfg.Chat.GrpcAPIKey in ${configPath}, now moved to ` +
        `workspace "${outcome.workspace.name}" in ${workspacesPath}`;
      const { apiKey: credential, workspace } = outcome;
      return { credential, kind: "api_key", source, workspace };
    }
    if (outcome.status === "kept") {
      const source = `legacy cfg.Chat.GrpcAPIKey in ${configPath}`;
      return { credential: outcome.apiKey, kind: "api_key", source };
    }
    // A concurrent resolution moved it between our two reads: it is in the active workspace now.
    const moved = activeKey(await readWorkspaces(home), workspacesPath);
    if (moved) return moved;
  }
  const active = await getActiveWorkspace(home);
  return await loginCredential(home, active) ?? failMissing();
}

function activeKey(
  file: WorkspacesFile,
  workspacesPath: string,
): ResolvedCredential | undefined {
  const active = file.workspaces.find((w) => w.name === file.active);
  if (!active?.api_key) return undefined;
  const source = `active workspace "${active.name}" in ${workspacesPath}`;
  return {
    credential: active.api_key,
    kind: "api_key",
    source,
    workspace: active,
  };
}

async function loginCredential(
  home: string,
  workspace: Workspace | undefined,
): Promise<ResolvedCredential | undefined> {
  const login = await loadLoginTokens(home);
  if (!login) return undefined;
  return {
    credential: login.access_token,
    kind: "login_token",
    source: `login token in ${configFilePath(home, "auth")} (cmdop login)`,
    workspace,
    login,
  };
}

function failMissing(workspace?: string): never {
  throw new MissingCredentialError(workspace);
}

/** The relay URL to use and where that choice came from. */
export interface ResolvedServer {
  server: string;
  /** E.g. `--server flag` or `CMDOP_SERVER environment variable`. */
  source: string;
}

/**
 * `--server` → `CMDOP_SERVER` → the `server` override of the `--workspace` or active
 * workspace → the relay URL that workspace got from `workspace sync` → the server of
 * `cmdop login`; none of them is a {@linkcode NoServerError}. An unknown `--workspace`
 * is an error.
 *
 * @example
 * ```ts
 * const { server, source } = await resolveServer({ home, env: ctx.env, flags });
 * ```
 */
export async function resolveServer(
  input: ResolveInput,
): Promise<ResolvedServer> {
  const { home, env, flags } = input;
  const flagServer = nonBlank(flags.server);
  if (flagServer) return { server: flagServer, source: "--server flag" };
  const envServer = nonBlank(env("CMDOP_SERVER"));
  if (envServer) {
    return { server: envServer, source: "CMDOP_SERVER environment variable" };
  }
  const workspacesPath = configFilePath(home, "workspaces");
  const file = await readWorkspaces(home);
  const workspace = flags.workspace !== undefined
    ? findOrThrow(file, flags.workspace)
    : file.workspaces.find((w) => w.name === file.active);
  const override = nonBlank(workspace?.server);
  if (override) {
    const source = `server override of workspace "${workspace!.name}" in ${workspacesPath}`;
    return { server: override, source };
  }
  const synced = nonBlank(workspace?.synced_server);
  if (synced) {
    const source = `server of workspace "${
      workspace!.name
    }" from workspace sync in ${workspacesPath}`;
    return { server: synced, source };
  }
  const loginServer = nonBlank((await loadLoginTokens(home))?.server);
  if (loginServer) {
    const source = `login server in ${configFilePath(home, "auth")} (cmdop login)`;
    return { server: loginServer, source };
  }
  throw new NoServerError(workspace?.name);
}

/**
 * Both resolutions at once, for commands that talk to the relay.
 *
 * @example
 * ```ts
 * const { credential, server } = await resolveConnection({ home, env: ctx.env, flags });
 * ```
 */
export async function resolveConnection(
  input: ResolveInput,
): Promise<{ credential: ResolvedCredential; server: ResolvedServer }> {
  const credential = await resolveCredential(input);
  const server = await resolveServer(input);
  return { credential, server };
}

function nonBlank(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}
