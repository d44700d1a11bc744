/** A cluster node's backend: PostgreSQL (store, logins, audit, recordings) and, with a NATS URL, the bus with its presence lease. */
import { connect } from "@nats-io/transport-node";
import type { Bus } from "../bus/bus.ts";
import { NatsBus } from "../bus/nats.ts";
import { openPostgresStore, type PostgresStore } from "../store/postgres.ts";
import { PostgresPresence } from "../store/postgres_presence.ts";
import { NodeWatch } from "../cluster/node_watch.ts";
import { PostgresLoginStore } from "../login/postgres_login_store.ts";
import { PostgresAuditStore } from "../audit/audit_postgres.ts";
import { PostgresRecordingStore } from "../recording/recording_postgres.ts";
import type { RelayBackends } from "./relay_backends.ts";

/** Options of {@linkcode openClusterBackends}. */
export interface ClusterOptions {
  /** `postgres://…` or `postgresql://…`. */
  storeUrl: string;
  /** `nats://…`; without it the node runs alone on the shared store. */
  busUrl?: string;
  /** Name of this node in logs and in the `relay_nodes` table. */
  nodeId: string;
  leaseMs?: number;
  now: () => number;
  log: (message: string) => void;
}

/** What a relay node serves from. */
export interface ClusterBackends {
  /** PostgreSQL, whose pool the login tables share. */
  store: PostgresStore;
  /** Undefined without a bus URL: the relay then routes in process. */
  bus?: Bus;
}

/**
 * The whole backend of a cluster node: every table in one PostgreSQL database (the login,
 * audit and recording stores share the store's pool), and the bus when `busUrl` is given.
 *
 * @example
 * ```ts
 * const backends = await openClusterRelayBackends({ storeUrl, busUrl, nodeId: "a", now, log });
 * ```
 */
export async function openClusterRelayBackends(options: ClusterOptions): Promise<RelayBackends> {
  const { store, bus } = await openClusterBackends(options);
  return {
    kind: "cluster",
    store,
    bus,
    logins: new PostgresLoginStore(store.sql),
    audit: new PostgresAuditStore(store.sql),
    recordings: new PostgresRecordingStore(store.sql),
  };
}

/** True for the URLs `--store` accepts. */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

/**
 * Connects to PostgreSQL (migrating it) and NATS, takes this node's presence
 * lease and starts its heartbeat. Fails with a message naming the service
 * that could not be reached.
 *
 * @example
 * ```ts
 * const { store, bus } = await openClusterBackends({ storeUrl, busUrl, nodeId: "a", now, log });
 * const relay = await startRelay({ hostname, port, store, bus });
 * ```
 */
export async function openClusterBackends(options: ClusterOptions): Promise<ClusterBackends> {
  if (!isPostgresUrl(options.storeUrl)) {
    throw new Error(`store "${redact(options.storeUrl)}" is not a postgres:// URL`);
  }
  const store = await openPostgresStore(options.storeUrl, { log: options.log });
  if (!options.busUrl) return { store };
  try {
    const bus = await openNatsBus(options, store.sql);
    return { store, bus };
  } catch (error) {
    await store.close().catch(() => {});
    throw error;
  }
}

async function openNatsBus(
  options: ClusterOptions,
  sql: ConstructorParameters<typeof PostgresPresence>[0]["sql"],
): Promise<NatsBus> {
  const busUrl = options.busUrl!;
  let url: URL;
  try {
    url = new URL(busUrl);
  } catch {
    throw new Error(`bus "${redact(busUrl)}" is not a URL`);
  }
  if (url.protocol !== "nats:") {
    throw new Error(`bus "${redact(busUrl)}" is not a nats:// URL`);
  }
  const user = decodeURIComponent(url.username);
  const pass = decodeURIComponent(url.password);
  const nc = await connect({
    // A server that requires TLS gets it: the client upgrades when the server asks.
    servers: `nats://${url.host}`,
    name: `cmdop-relay ${options.nodeId}`,
    ...(user && pass ? { user, pass } : user ? { token: user } : {}),
    // Never give up: a node without NATS can still serve its own agents' sessions.
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
  }).catch((error) => {
    throw new Error(`cannot connect to NATS at "${redact(busUrl)}": ${error.message}`);
  });
  // Unique per process, so a restarted node never inherits claims it does not hold.
  const instanceId = crypto.randomUUID();
  const presence = new PostgresPresence({
    sql,
    instanceId,
    nodeId: options.nodeId,
    leaseMs: options.leaseMs,
    now: options.now,
    log: options.log,
  });
  try {
    await presence.start();
  } catch (error) {
    await nc.close();
    throw new Error(`cannot take a presence lease: ${(error as Error).message}`);
  }
  const watch = new NodeWatch({ nc, instanceId, now: options.now });
  watch.start();
  options.log(`node ${options.nodeId} joined the cluster (instance ${instanceId})`);
  return new NatsBus({ nc, watch, presence, instanceId, now: options.now, log: options.log });
}

/** A URL fit for a log line: its password replaced. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@");
}
