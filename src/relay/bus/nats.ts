/** NatsBus: routing for a relay cluster; agents and clients on different nodes meet over NATS subjects. */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import { AgentCommandSchema } from "../../../gen/cmdop/v1/agent_pb.ts";
import { SendInputRequestSchema } from "../../../gen/cmdop/v1/session_pb.ts";
import { isUuidShaped, newId } from "../../lib/secrets.ts";
import type { NodeWatch } from "../cluster/node_watch.ts";
import type { PresenceRegistry } from "../cluster/presence.ts";
import {
  type BridgeContext,
  type ClaimReply,
  type ClaimRequest,
  openClientHalf,
  runAgentHalf,
} from "../cluster/session_bridge.ts";
import { Subjects } from "../cluster/subjects.ts";
import { supervise } from "../../lib/supervise.ts";
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
import { SESSION_GONE } from "./local.ts";

/** Options of {@linkcode NatsBus}. */
export interface NatsBusOptions {
  nc: NatsConnection;
  watch: NodeWatch;
  presence: PresenceRegistry;
  /** This process's unique id (see `PostgresPresence`). */
  instanceId: string;
  now: () => number;
  log: (message: string) => void;
  /** How long a client waits for the agent's dial-back. */
  dialTimeoutMs?: number;
  /** Largest output window a bridged session may have (see `openClientHalf`). */
  maxWindowBytes?: number;
}

interface Held {
  link: AgentLink;
  linkId: string;
  lastSeenMs: number;
  dialSub: Subscription;
}

interface Waiter {
  machineId: string;
  /** Hands the session over; false when the dial is already settled. */
  settle(session: DialedSession): boolean;
}

/** Cap on one bridged session's output window: 4x the client's default, ample for line rate. */
export const MAX_BRIDGED_WINDOW_BYTES = 16 * 1024 * 1024;

/**
 * {@linkcode Bus} across relay nodes. The node holding an agent subscribes to
 * its dial subject; a client's node asks there, the agent dials back to
 * whichever node it reaches, and that node claims the session from the
 * client's node and bridges its frames over per-session subjects.
 *
 * @example
 * ```ts
 * const bus = new NatsBus({ nc, watch, presence, instanceId, now: Date.now, log });
 * ```
 */
/** How often a dial that found no node holding the agent is tried again, and how far apart. */
const DIAL_RETRIES = 3;
const DIAL_RETRY_MS = 100;

export class NatsBus implements Bus {
  #options: NatsBusOptions;
  #bridge: BridgeContext;
  #held = new Map<string, Held>();
  #waiters = new Map<string, Waiter>();
  #inputs = new Map<string, (delivery: InputDelivery) => InputReply>();
  #attachedSub: Subscription;
  #heartbeatSub: Subscription;
  #closed = false;

  constructor(options: NatsBusOptions) {
    this.#options = options;
    this.#bridge = {
      nc: options.nc,
      watch: options.watch,
      instanceId: options.instanceId,
      maxWindowBytes: options.maxWindowBytes ?? MAX_BRIDGED_WINDOW_BYTES,
      claimTimeoutMs: 5_000,
      log: options.log,
    };
    // Another node took one of our agents (it reconnected there): stop routing to our stale stream.
    this.#attachedSub = options.nc.subscribe("cmdop.agent.*.attached", {
      callback: (error, msg) => {
        if (error || msg.string() === options.instanceId) return;
        const machineId = msg.subject.split(".")[2];
        const held = this.#held.get(machineId);
        if (held) this.#drop(machineId, held, REPLACED);
      },
    });
    // An agent's answer to a ping may reach any node (a load balancer picks): the holder records it.
    this.#heartbeatSub = options.nc.subscribe(Subjects.allAgentHeartbeats, {
      callback: (error, msg) => {
        if (error) return;
        const held = this.#held.get(msg.subject.split(".")[2]);
        if (held) this.#answered(held, options.now());
      },
    });
  }

  /** Number of agents connected to this node. */
  get connectedAgents(): number {
    return this.#held.size;
  }

  attachAgent(machineId: string, link: AgentLink): () => void {
    const { nc, presence, now, instanceId } = this.#options;
    const previous = this.#held.get(machineId);
    if (previous) this.#drop(machineId, previous, REPLACED);
    const linkId = newId();
    const dialSub = nc.subscribe(Subjects.agentDial(machineId), {
      callback: (error, msg) => {
        if (!error) this.#answerDial(msg, held);
      },
    });
    const held: Held = { link, linkId, lastSeenMs: now(), dialSub };
    this.#held.set(machineId, held);
    presence.claim(machineId, linkId, held.lastSeenMs);
    nc.publish(Subjects.agentAttached(machineId), instanceId);
    return () => {
      if (this.#held.get(machineId) === held) this.#drop(machineId, held);
    };
  }

  heartbeat(machineId: string, nowMs: number): void {
    const held = this.#held.get(machineId);
    if (held) return this.#answered(held, nowMs);
    if (!this.#closed && isUuidShaped(machineId)) {
      this.#options.nc.publish(Subjects.agentHeartbeat(machineId));
    }
  }

  #answered(held: Held, nowMs: number): void {
    held.lastSeenMs = nowMs;
    this.#options.presence.heartbeat(held.linkId, nowMs);
    held.link.answered?.();
  }

  async presence(machineIds: string[]): Promise<Map<string, Presence>> {
    const result = new Map<string, Presence>();
    const elsewhere: string[] = [];
    for (const id of machineIds) {
      const held = this.#held.get(id);
      if (held) result.set(id, { online: true, lastSeenMs: held.lastSeenMs });
      else elsewhere.push(id);
    }
    const remote = await this.#options.presence.lookup(elsewhere);
    for (const id of elsewhere) {
      const found = remote.get(id);
      result.set(id, { online: found !== undefined, lastSeenMs: found?.lastSeenMs ?? 0 });
    }
    return result;
  }

  async dial(machineId: string, sessionId: string, signal: AbortSignal): Promise<DialedSession> {
    const { nc } = this.#options;
    const outcome = Promise.withResolvers<DialedSession>();
    let settled = false;
    const settle = (session: DialedSession) => {
      if (settled) return false;
      settled = true;
      outcome.resolve(session);
      return true;
    };
    const fail = (error: unknown) => {
      if (settled) return;
      settled = true;
      outcome.reject(error);
    };
    // The dial-back may reach any node; the one that gets it claims the session here.
    const claimSub = nc.subscribe(Subjects.sessionClaim(sessionId), {
      callback: (error, msg) => {
        if (!error) this.#answerClaim(msg, machineId, sessionId, () => settled, settle);
      },
    });
    this.#waiters.set(sessionId, { machineId, settle });
    const onAbort = () => fail(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    const timer = setTimeout(
      () => fail(new AgentUnreachableError("machine did not answer the session request in time")),
      this.#options.dialTimeoutMs ?? 10_000,
    );
    // Flushed first so that the claim subscription is in place before any agent can answer.
    nc.flush().then(() => this.#requestDial(machineId, sessionId)).catch(fail);
    try {
      return await outcome.promise;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      this.#waiters.delete(sessionId);
      claimSub.unsubscribe();
    }
  }

  acceptDial(machineId: string, sessionId: string, session: DialedSession): boolean {
    const waiter = this.#waiters.get(sessionId);
    if (waiter) {
      // A session id is only honoured for the machine it was sent to.
      return waiter.machineId === machineId && waiter.settle(session);
    }
    if (this.#closed || !isUuidShaped(sessionId)) return false;
    // The client waits on another node (or nowhere, and the claim says so).
    supervise(
      `session ${sessionId}: bridge`,
      runAgentHalf(this.#bridge, machineId, sessionId, session),
      {
        log: this.#options.log,
        onError: () => session.end(),
      },
    );
    return true;
  }

  async holdInputs(
    sessionId: string,
    deliver: (delivery: InputDelivery) => InputReply,
  ): Promise<() => void> {
    this.#inputs.set(sessionId, deliver);
    // An input call may land on any node (a load balancer picks): the others ask here.
    const sub = this.#options.nc.subscribe(Subjects.sessionInput(sessionId), {
      callback: (error, msg) => {
        if (error) return;
        let reply: InputReply;
        try {
          reply = deliver(decodeDelivery(msg.data));
        } catch {
          reply = { ok: false, code: "unavailable", message: "malformed input delivery" };
        }
        msg.respond(JSON.stringify(reply));
      },
    });
    const stop = () => {
      sub.unsubscribe();
      if (this.#inputs.get(sessionId) === deliver) this.#inputs.delete(sessionId);
    };
    // The client learns the session's id only after this: its first input call, wherever it
    // lands, must find the subscription in place.
    try {
      await this.#options.nc.flush();
    } catch (error) {
      stop();
      throw error;
    }
    return stop;
  }

  async sendInputs(sessionId: string, delivery: InputDelivery): Promise<InputReply> {
    const local = this.#inputs.get(sessionId);
    if (local) return local(delivery);
    if (this.#closed || !isUuidShaped(sessionId)) return SESSION_GONE;
    let msg: Msg;
    try {
      msg = await this.#options.nc.request(
        Subjects.sessionInput(sessionId),
        encodeDelivery(sessionId, delivery),
        { timeout: 5_000 },
      );
    } catch (error) {
      // No responders: no node holds the session.
      if ((error as { isNoResponders?(): boolean }).isNoResponders?.()) return SESSION_GONE;
      return {
        ok: false,
        code: "unavailable",
        message: `the relay node holding the session did not answer (${(error as Error).message})`,
      };
    }
    return msg.json<InputReply>();
  }

  /** A round trip to the NATS server; fails at once when the connection is closed. */
  async ping(): Promise<void> {
    if (this.#options.nc.isClosed()) throw new Error("the NATS connection is closed");
    await this.#options.nc.flush();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#attachedSub.unsubscribe();
    this.#heartbeatSub.unsubscribe();
    for (const [machineId, held] of this.#held) this.#drop(machineId, held);
    this.#options.watch.close();
    await this.#options.presence.close();
    await this.#options.nc.drain().catch(() => {});
  }

  /** Sends the dial command to the agent: directly when held here, else via its node. */
  async #requestDial(machineId: string, sessionId: string): Promise<void> {
    const held = this.#held.get(machineId);
    if (held) {
      if (!held.link.send(dialCommand(sessionId))) {
        throw new AgentUnreachableError("machine is offline");
      }
      return;
    }
    let reply: Msg | undefined;
    for (let attempt = 0; !reply; attempt++) {
      try {
        reply = await this.#options.nc.request(Subjects.agentDial(machineId), sessionId, {
          timeout: 5_000,
        });
      } catch (error) {
        // No responders: no node holds the agent, whatever an unexpired lease says — unless the
        // agent attached elsewhere a moment ago and that node's subscription is still on its way.
        if (attempt >= DIAL_RETRIES) {
          throw new AgentUnreachableError(`machine is offline (${(error as Error).message})`);
        }
        await new Promise((resolve) => setTimeout(resolve, DIAL_RETRY_MS));
      }
    }
    if (reply.string() !== "ok") throw new AgentUnreachableError("machine is offline");
  }

  #answerDial(msg: Msg, held: Held): void {
    const sessionId = msg.string();
    const sent = isUuidShaped(sessionId) && held.link.send(dialCommand(sessionId));
    msg.respond(sent ? "ok" : "offline");
  }

  #answerClaim(
    msg: Msg,
    machineId: string,
    sessionId: string,
    isSettled: () => boolean,
    settle: (session: DialedSession) => boolean,
  ): void {
    const refuse = (reason: string) => msg.respond(JSON.stringify({ ok: false, reason }));
    let request: ClaimRequest;
    try {
      request = msg.json<ClaimRequest>();
    } catch {
      return void refuse("malformed claim");
    }
    if (request.machineId !== machineId) return void refuse("session belongs to another machine");
    if (isSettled() || typeof request.instance !== "string") {
      return void refuse("session is no longer waiting");
    }
    const session = openClientHalf(this.#bridge, sessionId, request.instance);
    const reply: ClaimReply = { ok: true, instance: this.#options.instanceId };
    msg.respond(JSON.stringify(reply));
    if (!settle(session)) session.end();
  }

  /** Forgets a held stream; with `replacedBy`, also ends it, telling the agent why. */
  #drop(machineId: string, held: Held, replacedBy?: string): void {
    this.#held.delete(machineId);
    held.dialSub.unsubscribe();
    // Never rejects; the agent is gone from here whether or not the row is deleted yet.
    void this.#options.presence.release(machineId, held.linkId);
    if (replacedBy) held.link.close?.(replacedBy);
  }
}

/** An input call over NATS: the binding as a line of JSON, then the request as protobuf. */
function encodeDelivery(sessionId: string, delivery: InputDelivery): Uint8Array {
  const head = new TextEncoder().encode(JSON.stringify({ binding: delivery.binding }) + "\n");
  const body = toBinary(
    SendInputRequestSchema,
    create(SendInputRequestSchema, {
      sessionId,
      inputToken: delivery.inputToken,
      frames: delivery.frames,
    }),
  );
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}

function decodeDelivery(data: Uint8Array): InputDelivery {
  const newline = data.indexOf(10);
  if (newline < 0) throw new Error("no header line");
  const { binding } = JSON.parse(new TextDecoder().decode(data.subarray(0, newline)));
  if (typeof binding !== "string") throw new Error("no binding");
  const request = fromBinary(SendInputRequestSchema, data.subarray(newline + 1));
  return { binding, inputToken: request.inputToken, frames: request.frames };
}

function dialCommand(sessionId: string) {
  return create(AgentCommandSchema, { msg: { case: "dial", value: { sessionId } } });
}
