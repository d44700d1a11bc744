/**
 * The parts of an opened relay backend. A module of its own so that each backend
 * (`embedded.ts`, `cluster.ts`) and the chooser (`backend.ts`) share it without importing
 * each other.
 */
import type { Bus } from "../bus/bus.ts";
import type { LoginStore } from "../login/login_store.ts";
import type { Store } from "../store/store.ts";
import type { AuditStore } from "../audit/audit_events.ts";
import type { RecordingStore } from "../recording/recording_store.ts";

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
