/** The relay clients built on connect-es, for what the lean ones do not cover (login tokens, proxies, every other call). */
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { MachineService } from "../../gen/cmdop/v1/machine_pb.ts";
import { SessionInputSchema, SessionService } from "../../gen/cmdop/v1/session_pb.ts";
import { ShareService } from "../../gen/cmdop/v1/share_pb.ts";
import { AuditService } from "../../gen/cmdop/v1/audit_pb.ts";
import { RecordingService } from "../../gen/cmdop/v1/recording_pb.ts";
import { WorkspaceService } from "../../gen/cmdop/v1/workspace_pb.ts";
import { createRelayTransport } from "../lib/transport.ts";
import type { SessionInputInit } from "../lib/wire/session_codec.ts";
import type { FullClientOptions, RelayClients } from "./relay_clients.ts";

export type { FullClientOptions } from "./relay_clients.ts";

/**
 * Typed connect-es clients over one relay transport.
 *
 * @example
 * ```ts
 * const { shares } = fullRelayClients({ baseUrl, bearer, headers: {}, interceptors: [] });
 * ```
 */
export function fullRelayClients(options: FullClientOptions): RelayClients {
  const transport = createRelayTransport(options);
  const sessions = createClient(SessionService, transport);
  return {
    machines: createClient(MachineService, transport),
    sessions: {
      session: (inputs, callOptions) => sessions.session(asMessages(inputs), callOptions),
      halfSession: (open, callOptions) => sessions.halfSession(open, callOptions),
      sendInput: async (request, callOptions) => {
        await sessions.sendInput(request, callOptions);
      },
    },
    shares: createClient(ShareService, transport),
    workspaces: createClient(WorkspaceService, transport),
    audit: createClient(AuditService, transport),
    recordings: createClient(RecordingService, transport),
  };
}

async function* asMessages(inputs: AsyncIterable<SessionInputInit>) {
  for await (const input of inputs) yield create(SessionInputSchema, input);
}
