/** AuditLog: how the relay's services record audit events — bounded, never failing the call that records. */
import type { Logger } from "../../lib/log.ts";
import type { ClientPrincipal } from "../principal.ts";
import type { MachineRecord } from "../store/store.ts";
import {
  type AuditActorKind,
  type AuditEvent,
  type AuditQuery,
  type AuditStore,
  boundedDetail,
} from "./audit_events.ts";

/** What a service says happened; the log adds the time and bounds the detail. */
export interface AuditRecord {
  workspaceId: string;
  kind: string;
  actor: AuditActor;
  /** The client's address; "" when there is none. */
  peer: string;
  machine?: Pick<MachineRecord, "id" | "hostname">;
  detail?: Record<string, unknown>;
}

export interface AuditActor {
  kind: AuditActorKind;
  id: string;
}

/** Writes waiting for the store at most; past it events are dropped, each drop logged. */
const MAX_PENDING_WRITES = 10_000;
/** Credential and address pairs remembered for "first use from a new address". */
const MAX_SEEN_PAIRS = 10_000;

/**
 * Records audit events without making anyone wait for them or fail because of them: a
 * write that fails is logged as an error and the session or call goes on.
 *
 * @example
 * ```ts
 * deps.audit.record({ workspaceId, kind: "share.revoked", actor, peer, detail: { share_id } });
 * ```
 */
export class AuditLog {
  #store: AuditStore;
  #now: () => number;
  #log: Logger;
  #pending = new Set<Promise<void>>();
  /**
   * Credential and address pairs seen by this relay process, oldest first (a Map keeps
   * insertion order). In memory by choice: the first use after a restart, or on another
   * node of a cluster, is recorded again, which errs on the side of one more row.
   */
  #seen = new Map<string, true>();

  constructor(store: AuditStore, now: () => number, log: Logger) {
    this.#store = store;
    this.#now = now;
    this.#log = log;
  }

  /** Appends one event in the background. */
  record(event: AuditRecord): void {
    if (this.#pending.size >= MAX_PENDING_WRITES) {
      this.#log(`audit: event ${event.kind} of workspace ${event.workspaceId} dropped`, {
        level: "error",
        reason: `${MAX_PENDING_WRITES} writes already wait for the store`,
      });
      return;
    }
    const write = this.#append(event).catch((error) => {
      this.#log(`audit: cannot write event ${event.kind} of workspace ${event.workspaceId}`, {
        level: "error",
        error: error instanceof Error ? error.message : String(error),
      });
    }).finally(() => this.#pending.delete(write));
    this.#pending.add(write);
  }

  async #append(event: AuditRecord): Promise<void> {
    await this.#store.append({
      workspaceId: event.workspaceId,
      timeMs: this.#now(),
      kind: event.kind,
      actorKind: event.actor.kind,
      actorId: event.actor.id,
      peer: event.peer.slice(0, 256),
      machineId: event.machine?.id ?? "",
      machineName: event.machine?.hostname ?? "",
      // Bounded before it is stored: a parse of the bounded JSON, so the store holds what was cut.
      detail: JSON.parse(boundedDetail(event.detail ?? {})),
    });
  }

  /**
   * A call came in with this principal from `peer`: the first time an API key or a share
   * link is seen from an address (by this process), `key.used` or `share.used` is recorded.
   */
  noteUse(principal: ClientPrincipal, peer: string): void {
    const actor = actorOf(principal);
    if (actor.kind !== "api_key" && actor.kind !== "share") return;
    const pair = `${actor.kind}|${actor.id}|${peer}`;
    if (this.#seen.has(pair)) return;
    if (this.#seen.size >= MAX_SEEN_PAIRS) this.#seen.delete(this.#seen.keys().next().value!);
    this.#seen.set(pair, true);
    this.record({
      workspaceId: principal.workspaceId,
      kind: actor.kind === "api_key" ? "key.used" : "share.used",
      actor,
      peer,
      machine: principal.kind === "share" ? { id: principal.machineId, hostname: "" } : undefined,
      detail: { first_use_from_address: true },
    });
  }

  list(query: AuditQuery): Promise<AuditEvent[]> {
    return this.#store.list(query);
  }

  /** Resolves once every event recorded so far is written (or has failed). */
  async flush(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all(this.#pending);
  }
}

/**
 * Who a principal is, for the log: an API key's fingerprint, a login's user id, a share's
 * id, a machine's id. Never the credential itself.
 *
 * @example
 * ```ts
 * const actor = actorOf(principal); // { kind: "api_key", id: "3f2a…" }
 * ```
 */
export function actorOf(principal: ClientPrincipal): AuditActor {
  if (principal.kind === "share") return { kind: "share", id: principal.shareId };
  if (principal.kind === "machine") return { kind: "machine", id: principal.machineId };
  if (principal.via === "login_token") return { kind: "login", id: principal.userId ?? "" };
  return { kind: "api_key", id: principal.keyId ?? "" };
}

/** The client's address as the relay's listener saw it (never a client-sent header). */
export function peerOf(header: Headers): string {
  return header.get("cmdop-peer") ?? "";
}

/** An audit store that keeps nothing: for relays started without one (in-memory tests). */
export const NO_AUDIT_STORE: AuditStore = {
  append: () => Promise.resolve(),
  list: () => Promise.resolve([]),
};
