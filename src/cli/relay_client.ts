/** connectRelay: the relay URL, the credential (and where each came from), and typed clients over one transport. */
import { type Client, createClient } from "@connectrpc/connect";
import { MachineService } from "../../gen/cmdop/v1/machine_pb.ts";
import { SessionService } from "../../gen/cmdop/v1/session_pb.ts";
import { ShareService } from "../../gen/cmdop/v1/share_pb.ts";
import { WorkspaceService } from "../../gen/cmdop/v1/workspace_pb.ts";
import { createRelayTransport, loadCaFetch } from "../lib/transport.ts";
import { CliError } from "./errors.ts";
import type { CliContext } from "./context.ts";
import { resolveAccess, type ResolvedAccess } from "./access.ts";
import type { GlobalOptions, RunState } from "./globals.ts";

export interface RelayConnection extends ResolvedAccess {
  machines: Client<typeof MachineService>;
  sessions: Client<typeof SessionService>;
  shares: Client<typeof ShareService>;
  workspaces: Client<typeof WorkspaceService>;
  /** Machine tokens earned by passwords during this run, by machine id. */
  machineTokens: Map<string, string>;
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
  const access = await resolveAccess(ctx, globals);
  state.credentialSource = access.credentialSource;
  const headers: Record<string, string> = {};
  if (access.workspaceHint) headers["cmdop-workspace"] = access.workspaceHint;
  // A private CA comes through the environment: the global flags are fixed by the spec.
  const caFile = ctx.env("CMDOP_CA_FILE");
  const transport = createRelayTransport({
    baseUrl: access.server,
    bearer: access.credential,
    headers,
    fetch: caFile ? await loadCaFetch(caFile, "CMDOP_CA_FILE").catch(asCliError) : undefined,
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

function asCliError(error: Error): never {
  throw new CliError(error.message);
}
