/** Bus: how relay services find agents and meet their dial-back streams, local or across nodes. */
import type { AgentCommand } from "../../../gen/cmdop/v1/agent_pb.ts";
import type { SessionInput, SessionOutput } from "../../../gen/cmdop/v1/session_pb.ts";

/** What an older control stream is told when a newer one of the same machine replaces it. */
export const REPLACED = "a newer connection of this machine replaced this one";

/** The relay's handle on one connected agent's control stream. */
export interface AgentLink {
  /** Queues a command on the control stream; false when the stream is gone. */
  send(command: AgentCommand): boolean;
  /**
   * Ends the control stream, telling the agent why: called when a newer control
   * stream of the same machine replaced this one (one machine, one live stream).
   */
  close?(reason: string): void;
  /** The agent answered a ping (its heartbeat reached whichever node). */
  answered?(): void;
}

export interface Presence {
  online: boolean;
  /** Last time the agent was heard from (connect or its answer to a ping), unix ms; 0 = unknown. */
  lastSeenMs: number;
}

/** The agent's end of one session, as the client's session handler sees it. */
export interface DialedSession {
  /** Frames the agent sends (output, exit, credit), ending when its stream ends. */
  frames: AsyncIterable<SessionOutput>;
  /** Forwards a frame to the agent; false once the agent's stream is gone. */
  send(input: SessionInput): boolean;
  /** Ends the relay-to-agent direction. Idempotent. */
  end(): void;
}

/**
 * One SendInput call of a half-duplex session, on its way to the node that
 * holds the session's output stream (where its input queue is).
 */
export interface InputDelivery {
  /** Who calls, as the session is bound to it (see half_session.ts); never a secret itself. */
  binding: string;
  inputToken: string;
  frames: SessionInput[];
}

/** What became of an {@linkcode InputDelivery}; `code` is a Connect code name. */
export type InputReply =
  | { ok: true }
  | {
    ok: false;
    code: "not_found" | "permission_denied" | "resource_exhausted" | "unavailable";
    message: string;
  };

/**
 * Routing between relay services and agents. The embedded relay routes in
 * process; a cluster routes across nodes. Services depend only on this.
 */
export interface Bus {
  /**
   * Registers an agent's control stream on this node; the returned function unregisters
   * it. A machine has one live stream: a newer one replaces (and closes) the older, here
   * or on another node, and unregistering a replaced stream leaves the newer in place.
   */
  attachAgent(machineId: string, link: AgentLink): () => void;
  /**
   * Records an agent's answer to a ping. In a cluster the answer may reach any
   * node; it is passed on to the node holding the agent's control stream.
   */
  heartbeat(machineId: string, nowMs: number): void;
  /** Presence of the given machines, wherever their agents are connected. */
  presence(machineIds: string[]): Promise<Map<string, Presence>>;
  /**
   * Asks the machine's agent to dial back for `sessionId` and waits for it.
   * Rejects with {@linkcode AgentUnreachableError} when it is not connected or
   * does not dial back within the timeout.
   */
  dial(machineId: string, sessionId: string, signal: AbortSignal): Promise<DialedSession>;
  /** Hands an agent's dial-back stream to the waiting session; false when none waits. */
  acceptDial(machineId: string, sessionId: string, session: DialedSession): boolean;
  /**
   * Receives the input calls of a half-duplex session held on this node,
   * wherever they land; resolves once every node can reach it, with the
   * function that stops it.
   */
  holdInputs(
    sessionId: string,
    deliver: (delivery: InputDelivery) => InputReply,
  ): Promise<() => void>;
  /** Hands an input call to the node holding the session; `not_found` when none does. */
  sendInputs(sessionId: string, delivery: InputDelivery): Promise<InputReply>;
  /** Agents holding a control stream on this node. */
  readonly connectedAgents: number;
  /** Resolves when the routing backend answers (the relay's /readyz); in process, at once. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The machine's agent is not connected, or did not answer a dial request. */
export class AgentUnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AgentUnreachableError";
  }
}
