/** The state a relay serves from, whichever database holds it: its parts and how to open them. */
import type { Bus } from "../bus/bus.ts";
import type { LoginStore } from "../login/login_store.ts";
import type { Store } from "../store/store.ts";
import type { AuditStore } from "../audit/audit_events.ts";
import type { RecordingStore } from "../recording/recording_store.ts";
import { UserError } from "../../lib/user_error.ts";

/** Where a store URL comes from when `--store` is absent; it keeps passwords out of `ps`. */
export const STORE_VARIABLE = "CMDOP_RELAY_STORE";

/** The opened state: the main store, login state on the same database, the bus when asked. */
export interface RelayBackends {
  /** `embedded`: SQLite under a data folder; `cluster`: PostgreSQL shared by every node. */
  kind: "embedded" | "cluster";
  store: Store;
  /** Users, device codes and login tokens, beside `store` in the same database. */
  logins: LoginStore;
  /** The audit log, beside `store` in the same database. */
  audit: AuditStore;
  /**
   * Session recordings: indexed beside `store`; their bytes in files under the data folder
   * (embedded) or in the same PostgreSQL database (a cluster).
   */
  recordings: RecordingStore;
  /** The cluster bus (NATS); absent on the embedded relay and on a node that has none. */
  bus?: Bus;
}

/** Which backend to open. */
export interface BackendOptions {
  /** The embedded store's folder, used when no `storeUrl` is given. */
  data?: string;
  /** `postgres://…`: a cluster node's shared store. */
  storeUrl?: string;
  /** `nats://…`: only a serving node joins the bus. */
  busUrl?: string;
  /** This node's name on the bus; hostname and pid by default. */
  nodeId?: string;
  now: () => number;
  log: (message: string) => void;
}

/**
 * SQLite under `data`, or PostgreSQL (and NATS, when `busUrl` is given) when `storeUrl` is
 * set. Each backend loads only its own modules. Failures are a {@linkcode UserError} naming
 * the service.
 *
 * @example
 * ```ts
 * const { store, logins } = await openRelayBackends({ data: ".cmdop-relay", now: Date.now, log });
 * ```
 */
export async function openRelayBackends(options: BackendOptions): Promise<RelayBackends> {
  if (!options.storeUrl) {
    if (options.busUrl) {
      throw new UserError("--bus needs --store postgres://…", {
        hint: "cluster nodes share their state and presence leases in PostgreSQL",
      });
    }
    if (options.data === undefined) {
      throw new UserError("no relay store given: use --data DIR or --store postgres://…", {
        hint: `--store may also come from ${STORE_VARIABLE}`,
      });
    }
    const { openEmbeddedBackends } = await import("./embedded.ts");
    return await openEmbeddedBackends(options.data, options.log);
  }
  const { openClusterRelayBackends } = await import("./cluster.ts");
  try {
    return await openClusterRelayBackends({
      storeUrl: options.storeUrl,
      busUrl: options.busUrl,
      nodeId: options.nodeId ?? `${Deno.hostname()}-${Deno.pid}`,
      now: options.now,
      log: options.log,
    });
  } catch (error) {
    throw new UserError((error as Error).message, { cause: error });
  }
}
