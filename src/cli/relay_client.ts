/** connectRelay: the relay URL, the credential (and where each came from), and typed clients over one transport. */
import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { MachineService } from "../../gen/cmdop/v1/machine_pb.ts";
import { SessionService } from "../../gen/cmdop/v1/session_pb.ts";
import { ShareService } from "../../gen/cmdop/v1/share_pb.ts";
import { WorkspaceService } from "../../gen/cmdop/v1/workspace_pb.ts";
import { createRelayTransport, loadCaFetch } from "../lib/transport.ts";
import { CliError } from "./errors.ts";
import type { CliContext } from "./context.ts";
import { resolveAccess, type ResolvedAccess } from "./access.ts";
import type { GlobalOptions, RunState } from "./globals.ts";
import { LOGIN_AGAIN_HINT, LoginSession } from "./login_session.ts";

export interface RelayConnection extends ResolvedAccess {
  machines: Client<typeof MachineService>;
  sessions: Client<typeof SessionService>;
  shares: Client<typeof ShareService>;
  workspaces: Client<typeof WorkspaceService>;
  /** Machine tokens earned by passwords during this run, by machine id. */
  machineTokens: Map<string, string>;
  /** The relay's workspace the calls act in, once `listMachines` said (remembered passwords use it). */
  relayWorkspace?: { id: string; name: string };
}

/**
 * Resolves server and credential and builds the clients. Records the
 * credential's source in `state` so an auth failure can name it.
 */
export async function connectRelay(
  ctx: CliContext,
  globals: GlobalOptions,
  state: RunState,
): Promise<RelayConnection> {
  return await openRelayConnection(ctx, state, await resolveAccess(ctx, globals));
}

/** What to do when each kind of credential is refused. */
const REFUSED_HINTS: Record<ResolvedAccess["kind"], string> = {
  api_key: "fix or replace that credential",
  login_token: LOGIN_AGAIN_HINT,
  share_link: "the link may have been revoked or have expired: ask for a new one",
};

/**
 * Builds the clients for an already resolved credential (a share link brings its
 * own). A login token is refreshed when it expires, and sent with the workspace it
 * acts in.
 */
export async function openRelayConnection(
  ctx: CliContext,
  state: RunState,
  access: ResolvedAccess,
): Promise<RelayConnection> {
  state.credentialSource = access.credentialSource;
  state.credentialHint = REFUSED_HINTS[access.kind];
  const headers: Record<string, string> = {};
  if (access.workspaceHint) headers["cmdop-workspace"] = access.workspaceHint;
  const fetch = await relayFetch(ctx);
  const interceptors: Interceptor[] = [];
  let bearer: string | undefined = access.credential;
  if (access.kind === "login_token" && access.login && access.home) {
    const session = new LoginSession(access.home, access.login, fetch ?? globalThis.fetch, ctx.now);
    interceptors.push(session.interceptor());
    bearer = undefined;
  }
  const transport = createRelayTransport({
    baseUrl: access.server,
    bearer,
    headers,
    fetch,
    interceptors,
  });
  return {
    ...access,
    machines: createClient(MachineService, transport),
    sessions: createClient(SessionService, transport),
    shares: createClient(ShareService, transport),
    workspaces: createClient(WorkspaceService, transport),
    machineTokens: new Map(),
  };
}

/**
 * The fetch the CLI talks to relays with: trusting a private CA when `CMDOP_CA_FILE`
 * names one (the environment, because the global flags are fixed by the spec).
 */
export async function relayFetch(ctx: CliContext): Promise<typeof globalThis.fetch | undefined> {
  const caFile = ctx.env("CMDOP_CA_FILE");
  return caFile ? await loadCaFetch(caFile, "CMDOP_CA_FILE").catch(asCliError) : undefined;
}

function asCliError(error: Error): never {
  throw new CliError(error.message);
}
