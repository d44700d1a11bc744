/** connectRelay: the relay URL, the credential (and where each came from), and typed clients over one transport. */
import { type Client, createClient } from "@connectrpc/connect";
import { MachineService } from "../../gen/cmdop/v1/machine_pb.ts";
import { SessionService } from "../../gen/cmdop/v1/session_pb.ts";
import { ShareService } from "../../gen/cmdop/v1/share_pb.ts";
import { WorkspaceService } from "../../gen/cmdop/v1/workspace_pb.ts";
import { createRelayTransport } from "../lib/transport.ts";
import type { CliContext } from "./context.ts";
import { type ResolvedAccess, resolveAccess } from "./access.ts";
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
  const transport = createRelayTransport({
    baseUrl: access.server,
    bearer: access.credential,
    headers,
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
