/** The shapes of a relay connection's clients, whichever stack (lean or connect-es) builds them. */
import type { CallOptions, Client, Interceptor } from "@connectrpc/connect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { MachineService } from "../../gen/cmdop/v1/machine_pb.ts";
import type {
  OpenSessionSchema,
  SendInputRequestSchema,
  SessionOutput,
} from "../../gen/cmdop/v1/session_pb.ts";
import type { ShareService } from "../../gen/cmdop/v1/share_pb.ts";
import type { AuditService } from "../../gen/cmdop/v1/audit_pb.ts";
import type { RecordingService } from "../../gen/cmdop/v1/recording_pb.ts";
import type { WorkspaceService } from "../../gen/cmdop/v1/workspace_pb.ts";
import type { SessionInputInit } from "../lib/wire/session_codec.ts";

/** The session calls: frames as `create(SessionInputSchema, …)` takes them, frames from the agent back. */
export interface SessionCalls {
  session(
    inputs: AsyncIterable<SessionInputInit>,
    options?: CallOptions,
  ): AsyncIterable<SessionOutput>;
  /** The half-duplex session (half_duplex.ts): output only, its first frame the handle. */
  halfSession(
    open: MessageInitShape<typeof OpenSessionSchema>,
    options?: CallOptions,
  ): AsyncIterable<SessionOutput>;
  sendInput(
    request: MessageInitShape<typeof SendInputRequestSchema>,
    options?: CallOptions,
  ): Promise<void>;
}

/** The clients of one relay connection. */
export interface RelayClients {
  machines: Client<typeof MachineService>;
  sessions: SessionCalls;
  shares: Client<typeof ShareService>;
  workspaces: Client<typeof WorkspaceService>;
  audit: Client<typeof AuditService>;
  recordings: Client<typeof RecordingService>;
}

/** What `fullRelayClients` (relay_full.ts) needs to reach the relay. */
export interface FullClientOptions {
  baseUrl: string;
  bearer?: string;
  headers: Record<string, string>;
  fetch?: typeof globalThis.fetch;
  interceptors: Interceptor[];
}
