/** Opens the relay's state as `relay serve` and the operator commands share it: SQLite under --data, or PostgreSQL from --store / CMDOP_RELAY_STORE. */
import type { Bus } from "../../../relay/bus/bus.ts";
import type { LoginStore } from "../../../relay/login/login_store.ts";
import type { Store } from "../../../relay/store/store.ts";
import type { AuditStore } from "../../../relay/audit/audit_events.ts";
import type { RecordingStore } from "../../../relay/recording/recording_store.ts";
import type { CliContext } from "../../context.ts";
import { CliError } from "../../errors.ts";
import { UnsafeFileError } from "../../../lib/private_files.ts";

/** Where a store URL comes from when `--store` is absent; it keeps passwords out of `ps`. */
export const STORE_VARIABLE = "CMDOP_RELAY_STORE";

/** Which store to open, as the command line and the environment say. */
export interface BackendOptions {
  /** The embedded store's directory, used when no store URL is given. */
  data?: string;
  /** `postgres://…` from `--store`; `CMDOP_RELAY_STORE` when absent. */
  store?: string;
  /** `nats://…`: only a serving node joins the bus. */
  bus?: string;
  /** This node's name on the bus; hostname and pid by default. */
  nodeId?: string;
}

/** The opened state: the main store, login state on the same database, the bus when asked. */
export interface RelayBackends {
  store: Store;
  /** Users, device codes and login tokens, beside `store` in the same database. */
  logins: LoginStore;
  /** The audit log, beside `store` in the same database. */
  audit: AuditStore;
  /**
   * Session recordings: indexed beside `store`; their bytes in files under `data`
   * (SQLite) or in the same PostgreSQL database (a cluster).
   */
  recordings: RecordingStore;
  bus?: Bus;
}

/**
 * SQLite under `data`, or PostgreSQL (and NATS, when `bus` is given) when a store URL is
 * set. Failures become a `CliError` naming the service.
 *
 * @example
 * ```ts
 * const { store, logins } = await openRelayBackends(ctx, { data: ".cmdop-relay" }, log);
 * ```
 */
export async function openRelayBackends(
  ctx: CliContext,
  options: BackendOptions,
  log: (message: string) => void,
): Promise<RelayBackends> {
  const storeUrl = storeUrlOf(ctx, options);
  if (!storeUrl) {
    if (options.bus) {
      throw new CliError("--bus needs --store postgres://…", {
        hint: "cluster nodes share their state and presence leases in PostgreSQL",
      });
    }
    if (options.data === undefined) {
      throw new CliError("no relay store given: use --data DIR or --store postgres://…", {
        hint: `--store may also come from ${STORE_VARIABLE}`,
      });
    }
    const { openSqliteStore } = await import("../../../relay/store/sqlite.ts");
    const { SqliteLoginStore } = await import("../../../relay/login/sqlite_login_store.ts");
    const { SqliteAuditStore } = await import("../../../relay/audit/audit_sqlite.ts");
    const { SqliteRecordingStore } = await import(
      "../../../relay/recording/recording_sqlite.ts"
    );
    const unsafe = (error: unknown) => {
      if (error instanceof UnsafeFileError) throw new CliError(error.message, { cause: error });
      throw error;
    };
    const store = await openSqliteStore(options.data, log).catch(unsafe);
    const recordings = await SqliteRecordingStore.open(store.db, options.data, log)
      .catch(async (error) => {
        await store.close();
        return unsafe(error);
      });
    return {
      store,
      logins: new SqliteLoginStore(store.db),
      audit: new SqliteAuditStore(store.db),
      recordings,
    };
  }
  const { openClusterBackends } = await import("../../../relay/cluster/open_cluster.ts");
  const { PostgresLoginStore } = await import("../../../relay/login/postgres_login_store.ts");
  const { PostgresAuditStore } = await import("../../../relay/audit/audit_postgres.ts");
  const { PostgresRecordingStore } = await import(
    "../../../relay/recording/recording_postgres.ts"
  );
  const nodeId = options.nodeId ?? `${Deno.hostname()}-${Deno.pid}`;
  try {
    const { store, bus } = await openClusterBackends({
      storeUrl,
      busUrl: options.bus,
      nodeId,
      now: ctx.now,
      log,
    });
    return {
      store,
      bus,
      logins: new PostgresLoginStore(store.sql),
      audit: new PostgresAuditStore(store.sql),
      recordings: new PostgresRecordingStore(store.sql),
    };
  } catch (error) {
    throw new CliError((error as Error).message, { cause: error });
  }
}

/**
 * The store of an operator command (`relay workspace create`, `relay user add`): never
 * the bus, and an explicit `--data` beside a store URL is refused rather than ignored,
 * since writing to a store the operator did not name is worse than stopping. For the
 * same reason a `--data` folder without `relay.db` is refused unless `init` is set.
 *
 * @example
 * ```ts
 * const { store } = await openOperatorStore(ctx, { store: "postgres://cmdop@db/cmdop" });
 * ```
 */
export async function openOperatorStore(
  ctx: CliContext,
  options: { data?: string; store?: string; init?: boolean },
): Promise<RelayBackends> {
  if (options.data !== undefined && storeUrlOf(ctx, options)) {
    const source = options.store !== undefined ? "--store" : STORE_VARIABLE;
    throw new CliError(`--data "${options.data}" and ${source} name two different stores`, {
      hint: options.store !== undefined
        ? "give one of them"
        : `unset ${STORE_VARIABLE} to use --data, or drop --data`,
    });
  }
  if (options.data !== undefined && !storeUrlOf(ctx, options) && !options.init) {
    await requireExistingStore(options.data);
  }
  // Stderr only: stdout may be JSON a script parses.
  return await openRelayBackends(ctx, { data: options.data, store: options.store }, (message) => {
    void ctx.stderr.write(`${message}\n`);
  });
}

/**
 * A `--data` folder with no `relay.db` is most likely a typo: refused, so a workspace
 * is not created in a new empty store the relay never reads. `--init` creates one.
 */
async function requireExistingStore(data: string): Promise<void> {
  const file = `${data.replace(/\/+$/, "")}/relay.db`;
  try {
    await Deno.stat(file);
    return;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) {
      throw new CliError(`cannot read "${file}": ${(error as Error).message}`, { cause: error });
    }
  }
  throw new CliError(`--data "${data}" holds no relay store (no relay.db there)`, {
    hint: "give the folder relay serve uses (its --data); to start a new store there, " +
      "run relay workspace create with --init",
  });
}

function storeUrlOf(ctx: CliContext, options: BackendOptions): string | undefined {
  return options.store || ctx.env(STORE_VARIABLE) || undefined;
}
