/** The state a relay serves from, whichever database holds it: its parts and how to open them. */
import { UserError } from "../../lib/user_error.ts";
import type { RelayBackends } from "./relay_backends.ts";

export type { RelayBackends } from "./relay_backends.ts";

/** Where a store URL comes from when `--store` is absent; it keeps passwords out of `ps`. */
export const STORE_VARIABLE = "CMDOP_RELAY_STORE";

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
