/** NodeWatch: which relay nodes are alive, from their heartbeats on NATS, so bridged sessions learn of a peer's death. */
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { Subjects } from "./subjects.ts";

/** Options of {@linkcode NodeWatch}. */
export interface NodeWatchOptions {
  nc: NatsConnection;
  instanceId: string;
  /** How often this node says it is alive. */
  intervalMs?: number;
  /** Silence after which a peer is taken for dead. */
  silenceMs?: number;
  now?: () => number;
}

type LostHandler = (reason: string) => void;

/**
 * Heartbeats cost O(nodes) messages however many sessions run; each bridged
 * session registers a handler on its peer node instead of pinging on its own.
 * Losing this node's own NATS connection counts as losing every peer: frames
 * may have been dropped while it was down.
 *
 * @example
 * ```ts
 * const watch = new NodeWatch({ nc, instanceId });
 * watch.start();
 * const unwatch = watch.watch(peer, (reason) => session.end());
 * ```
 */
export class NodeWatch {
  #nc: NatsConnection;
  #instanceId: string;
  #intervalMs: number;
  #silenceMs: number;
  #now: () => number;
  #lastHeard = new Map<string, number>();
  #handlers = new Map<string, Set<LostHandler>>();
  #sub?: Subscription;
  #timer?: ReturnType<typeof setInterval>;

  constructor(options: NodeWatchOptions) {
    this.#nc = options.nc;
    this.#instanceId = options.instanceId;
    this.#intervalMs = options.intervalMs ?? 1_000;
    this.#silenceMs = options.silenceMs ?? 4_000;
    this.#now = options.now ?? Date.now;
  }

  start(): void {
    this.#sub = this.#nc.subscribe(Subjects.allNodes, {
      callback: (error, msg) => {
        if (error) return;
        const [, , instance, kind] = msg.subject.split(".");
        if (kind === "alive") this.#lastHeard.set(instance, this.#now());
        else if (kind === "gone") this.#lose(instance, "it shut down");
      },
    });
    this.#beat();
    this.#timer = setInterval(() => {
      this.#beat();
      this.#check();
    }, this.#intervalMs);
    (async () => {
      for await (const status of this.#nc.status()) {
        if (status.type === "disconnect" || status.type === "staleConnection") {
          for (const instance of [...this.#handlers.keys()]) {
            this.#lose(instance, "this node lost its NATS connection");
          }
        }
      }
    })().catch(() => {});
  }

  /**
   * Calls `onLost` once if the peer dies (or says goodbye) before the returned
   * function is called. A peer not heard from yet gets a full silence period.
   */
  watch(instanceId: string, onLost: LostHandler): () => void {
    if (instanceId === this.#instanceId) return () => {};
    if (!this.#lastHeard.has(instanceId)) this.#lastHeard.set(instanceId, this.#now());
    let handlers = this.#handlers.get(instanceId);
    if (!handlers) this.#handlers.set(instanceId, handlers = new Set());
    let fired = false;
    const handler: LostHandler = (reason) => {
      if (fired) return;
      fired = true;
      onLost(reason);
    };
    handlers.add(handler);
    return () => {
      fired = true;
      const set = this.#handlers.get(instanceId);
      set?.delete(handler);
      if (set?.size === 0) this.#handlers.delete(instanceId);
    };
  }

  /** Says goodbye so that peers end their sessions with this node now rather than after the silence. */
  close(): void {
    clearInterval(this.#timer);
    try {
      this.#nc.publish(Subjects.nodeGone(this.#instanceId));
    } catch {
      // Already disconnected: peers will notice the silence.
    }
    this.#sub?.unsubscribe();
  }

  #beat(): void {
    try {
      this.#nc.publish(Subjects.nodeAlive(this.#instanceId));
    } catch {
      // Reconnecting; the status loop has already failed what needed failing.
    }
  }

  #check(): void {
    const now = this.#now();
    for (const [instance, heard] of this.#lastHeard) {
      if (now - heard <= this.#silenceMs) continue;
      this.#lastHeard.delete(instance);
      this.#lose(instance, `no heartbeat for ${Math.round((now - heard) / 1000)} s`);
    }
  }

  #lose(instanceId: string, reason: string): void {
    const handlers = this.#handlers.get(instanceId);
    this.#handlers.delete(instanceId);
    for (const handler of handlers ?? []) handler(reason);
  }
}
