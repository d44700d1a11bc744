/** PresenceRegistry: which relay node holds which agent, believed only while that node keeps its lease. */

/** An agent that some live node holds. */
export interface RemotePresence {
  /** Last heartbeat the holding node recorded, unix ms. */
  lastSeenMs: number;
}

/**
 * Cluster-wide presence. Each node claims the agents it holds and renews one
 * lease for all of them; when a node dies its lease runs out and every agent it
 * held reads as offline, without anyone having to clean up after it.
 */
export interface PresenceRegistry {
  /** Takes this node's lease and starts renewing it. */
  start(): Promise<void>;
  /**
   * Records that this node holds the machine's agent through link `linkId`
   * (one id per control stream, so a stale stream's release cannot undo a
   * newer claim).
   */
  claim(machineId: string, linkId: string, sinceMs: number): void;
  /**
   * Forgets the claim made through `linkId`, if it is still the current one. Resolves once it is
   * forgotten (never rejects: a failed write is logged and left to the lease); callers need not
   * wait for it.
   */
  release(machineId: string, linkId: string): Promise<void>;
  /** Notes a heartbeat; written in batches with the lease renewal. */
  heartbeat(linkId: string, nowMs: number): void;
  /** The machines among `machineIds` that a node with a live lease holds. */
  lookup(machineIds: string[]): Promise<Map<string, RemotePresence>>;
  /** Gives the lease up and removes this node's claims: its agents read offline at once. */
  close(): Promise<void>;
}

/** How long a node's claims are believed without a renewal. */
export const DEFAULT_LEASE_MS = 10_000;
