/** PostgresPresence: agent presence in PostgreSQL, one lease per relay node renewed a few times per lease period. */
import type { Sql } from "postgres";
import {
  DEFAULT_LEASE_MS,
  type PresenceRegistry,
  type RemotePresence,
} from "../cluster/presence.ts";

/** Options of {@linkcode PostgresPresence}. */
export interface PostgresPresenceOptions {
  sql: Sql;
  /** Unique per process: a restarted node never inherits its predecessor's claims. */
  instanceId: string;
  /** Operator-chosen name, for logs and `relay_nodes`. */
  nodeId: string;
  leaseMs?: number;
  now: () => number;
  log: (message: string) => void;
}

interface Claim {
  machineId: string;
  sinceMs: number;
  /** The claim's write; a release waits for it so that it cannot be overtaken. */
  written: Promise<void>;
}

/**
 * {@linkcode PresenceRegistry} on the cluster's database. Renewal writes one
 * row per node (not per agent), so its cost does not grow with the fleet;
 * heartbeats ride along as one batched UPDATE.
 *
 * @example
 * ```ts
 * const presence = new PostgresPresence({ sql: store.sql, instanceId, nodeId, now: Date.now, log });
 * await presence.start();
 * ```
 */
export class PostgresPresence implements PresenceRegistry {
  #sql: Sql;
  #instanceId: string;
  #nodeId: string;
  #leaseMs: number;
  #now: () => number;
  #log: (message: string) => void;
  #claims = new Map<string, Claim>();
  #heartbeats = new Map<string, number>();
  #timer?: ReturnType<typeof setInterval>;
  #renewing?: Promise<void>;
  #renewFailing = false;
  #renewals = 0;

  constructor(options: PostgresPresenceOptions) {
    this.#sql = options.sql;
    this.#instanceId = options.instanceId;
    this.#nodeId = options.nodeId;
    this.#leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.#now = options.now;
    this.#log = options.log;
  }

  async start(): Promise<void> {
    await this.#renew();
    // Three renewals per lease: two may fail (a slow query, a failover) before claims lapse.
    this.#timer = setInterval(() => {
      this.#renewing ??= this.#renew().finally(() => this.#renewing = undefined);
    }, Math.max(100, Math.floor(this.#leaseMs / 3)));
  }

  claim(machineId: string, linkId: string, sinceMs: number): void {
    const written = this.#writeClaim(machineId, linkId, sinceMs).catch((error) => {
      this.#log(`cannot record presence of machine ${machineId}: ${(error as Error).message}`);
    });
    this.#claims.set(linkId, { machineId, sinceMs, written });
  }

  release(machineId: string, linkId: string): Promise<void> {
    const claim = this.#claims.get(linkId);
    this.#claims.delete(linkId);
    this.#heartbeats.delete(linkId);
    return (claim?.written ?? Promise.resolve()).then(async () => {
      await this
        .#sql`DELETE FROM agent_presence WHERE machine_id = ${machineId} AND link_id = ${linkId}`;
    }).catch((error) => {
      // The lease still vouches for the row; the next renewal's sweep removes it.
      this.#log(`cannot clear presence of machine ${machineId}: ${(error as Error).message}`);
    });
  }

  heartbeat(linkId: string, nowMs: number): void {
    if (this.#claims.has(linkId)) this.#heartbeats.set(linkId, nowMs);
  }

  async lookup(machineIds: string[]): Promise<Map<string, RemotePresence>> {
    const result = new Map<string, RemotePresence>();
    if (machineIds.length === 0) return result;
    const rows = await this.#sql`SELECT p.machine_id, p.last_seen_ms
      FROM agent_presence p JOIN relay_nodes n ON n.instance_id = p.instance_id
      WHERE p.machine_id = ANY(${this.#sql.array(machineIds)}::text[])
        AND n.lease_until > now()`;
    for (const row of rows) {
      result.set(String(row.machine_id), { lastSeenMs: Number(row.last_seen_ms) });
    }
    return result;
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#renewing;
    await Promise.all([...this.#claims.values()].map((c) => c.written));
    this.#claims.clear();
    // Presence rows go with the node row (ON DELETE CASCADE).
    await this.#sql`DELETE FROM relay_nodes WHERE instance_id = ${this.#instanceId}`
      .catch(() => {});
  }

  async #writeClaim(machineId: string, linkId: string, sinceMs: number): Promise<void> {
    // A claim from an older connection (delayed in flight) never replaces a newer one.
    await this
      .#sql`INSERT INTO agent_presence (machine_id, instance_id, link_id, since_ms, last_seen_ms)
      VALUES (${machineId}, ${this.#instanceId}, ${linkId}, ${sinceMs}, ${sinceMs})
      ON CONFLICT (machine_id) DO UPDATE SET instance_id = EXCLUDED.instance_id,
        link_id = EXCLUDED.link_id, since_ms = EXCLUDED.since_ms,
        last_seen_ms = EXCLUDED.last_seen_ms
      WHERE agent_presence.since_ms <= EXCLUDED.since_ms`;
  }

  async #renew(): Promise<void> {
    try {
      const seconds = this.#leaseMs / 1000;
      const [row] = await this
        .#sql`INSERT INTO relay_nodes (instance_id, node_id, started_ms, lease_until)
        VALUES (${this.#instanceId}, ${this.#nodeId}, ${this.#now()},
          now() + make_interval(secs => ${seconds}))
        ON CONFLICT (instance_id) DO UPDATE SET lease_until = EXCLUDED.lease_until
        RETURNING (xmax = 0) AS inserted`;
      if (row.inserted && this.#claims.size > 0) await this.#reclaimAll();
      await this.#flushHeartbeats();
      // The sweep sends every held link id: often enough to heal, rarely enough to stay cheap.
      if (this.#renewals++ % 10 === 0) await this.#sweep();
      if (this.#renewFailing) this.#log("presence lease renewed again");
      this.#renewFailing = false;
    } catch (error) {
      if (!this.#renewFailing) {
        this.#log(`cannot renew the presence lease: ${(error as Error).message}`);
      }
      this.#renewFailing = true;
      if (!this.#timer) throw error;
    }
  }

  /** The node row was gone (swept after a long outage): claim every held agent again. */
  async #reclaimAll(): Promise<void> {
    this.#log("presence lease was lost; claiming this node's agents again");
    for (const [linkId, claim] of this.#claims) {
      await this.#writeClaim(claim.machineId, linkId, claim.sinceMs);
    }
  }

  async #flushHeartbeats(): Promise<void> {
    if (this.#heartbeats.size === 0) return;
    const links = [...this.#heartbeats.keys()];
    const times = links.map((l) => String(this.#heartbeats.get(l)));
    this.#heartbeats.clear();
    await this.#sql`UPDATE agent_presence p SET last_seen_ms = v.ms
      FROM unnest(${this.#sql.array(links)}::text[], ${this.#sql.array(times)}::bigint[])
        AS v(link, ms)
      WHERE p.link_id = v.link AND p.instance_id = ${this.#instanceId}`;
  }

  /** Drops rows of this node whose release was lost, and nodes dead for an hour. */
  async #sweep(): Promise<void> {
    const links = [...this.#claims.keys()];
    await this.#sql`DELETE FROM agent_presence WHERE instance_id = ${this.#instanceId}
      AND NOT (link_id = ANY(${this.#sql.array(links)}::text[]))`;
    await this.#sql`DELETE FROM relay_nodes WHERE lease_until < now() - interval '1 hour'`;
  }
}
