/** LocalBus: routing for the embedded relay, where agents and clients meet in one process. */
import { create } from "@bufbuild/protobuf";
import { AgentCommandSchema } from "../../../gen/cmdop/v1/agent_pb.ts";
import {
  type AgentLink,
  AgentUnreachableError,
  type Bus,
  type DialedSession,
  type InputDelivery,
  type InputReply,
  type Presence,
  REPLACED,
} from "./bus.ts";

interface Waiter {
  machineId: string;
  resolve(session: DialedSession): void;
}

interface Attached {
  link: AgentLink;
  lastSeenMs: number;
}

/**
 * In-process {@linkcode Bus}.
 *
 * @example
 * ```ts
 * const bus = new LocalBus({ now: Date.now });
 * ```
 */
export class LocalBus implements Bus {
  #agents = new Map<string, Attached>();
  #waiters = new Map<string, Waiter>();
  #inputs = new Map<string, (delivery: InputDelivery) => InputReply>();
  #now: () => number;
  #dialTimeoutMs: number;

  constructor(options: { now: () => number; dialTimeoutMs?: number }) {
    this.#now = options.now;
    this.#dialTimeoutMs = options.dialTimeoutMs ?? 10_000;
  }

  /** Number of agents connected to this process. */
  get connectedAgents(): number {
    return this.#agents.size;
  }

  attachAgent(machineId: string, link: AgentLink): () => void {
    const entry = { link, lastSeenMs: this.#now() };
    // A reconnecting agent replaces its stale stream; the old one's cleanup must not evict it.
    // The old stream is closed, not left running: an agent still on it would believe itself
    // online while nothing reaches it.
    const previous = this.#agents.get(machineId);
    this.#agents.set(machineId, entry);
    previous?.link.close?.(REPLACED);
    return () => {
      if (this.#agents.get(machineId) === entry) this.#agents.delete(machineId);
    };
  }

  heartbeat(machineId: string, nowMs: number): void {
    const entry = this.#agents.get(machineId);
    if (!entry) return;
    entry.lastSeenMs = nowMs;
    entry.link.answered?.();
  }

  presence(machineIds: string[]): Promise<Map<string, Presence>> {
    const result = new Map<string, Presence>();
    for (const id of machineIds) {
      const entry = this.#agents.get(id);
      result.set(id, { online: entry !== undefined, lastSeenMs: entry?.lastSeenMs ?? 0 });
    }
    return Promise.resolve(result);
  }

  dial(machineId: string, sessionId: string, signal: AbortSignal): Promise<DialedSession> {
    const entry = this.#agents.get(machineId);
    if (!entry) return Promise.reject(new AgentUnreachableError("machine is offline"));
    return new Promise<DialedSession>((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        this.#waiters.delete(sessionId);
      };
      const onAbort = () => {
        cleanup();
        reject(signal.reason);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new AgentUnreachableError("machine did not answer the session request in time"));
      }, this.#dialTimeoutMs);
      signal.addEventListener("abort", onAbort, { once: true });
      this.#waiters.set(sessionId, {
        machineId,
        resolve: (session) => {
          cleanup();
          resolve(session);
        },
      });
      const sent = entry.link.send(
        create(AgentCommandSchema, { msg: { case: "dial", value: { sessionId } } }),
      );
      if (!sent) {
        cleanup();
        reject(new AgentUnreachableError("machine is offline"));
      }
    });
  }

  acceptDial(machineId: string, sessionId: string, session: DialedSession): boolean {
    const waiter = this.#waiters.get(sessionId);
    // A session id is only honoured for the machine it was sent to.
    if (!waiter || waiter.machineId !== machineId) return false;
    waiter.resolve(session);
    return true;
  }

  holdInputs(
    sessionId: string,
    deliver: (delivery: InputDelivery) => InputReply,
  ): Promise<() => void> {
    this.#inputs.set(sessionId, deliver);
    return Promise.resolve(() => {
      if (this.#inputs.get(sessionId) === deliver) this.#inputs.delete(sessionId);
    });
  }

  sendInputs(sessionId: string, delivery: InputDelivery): Promise<InputReply> {
    const deliver = this.#inputs.get(sessionId);
    return Promise.resolve(deliver ? deliver(delivery) : SESSION_GONE);
  }

  ping(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.#agents.clear();
    return Promise.resolve();
  }
}

/** The answer to input for a session no node holds (never opened, or ended). */
export const SESSION_GONE: InputReply = {
  ok: false,
  code: "not_found",
  message: "session not found (it has ended, or never was)",
};
