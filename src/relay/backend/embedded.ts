/** The embedded relay's backend: one SQLite database under the data folder, recordings as files beside it. */
import { UnsafeFileError } from "../../lib/private_files.ts";
import { UserError } from "../../lib/user_error.ts";
import { SqliteAuditStore } from "../audit/audit_sqlite.ts";
import { SqliteLoginStore } from "../login/sqlite_login_store.ts";
import { SqliteRecordingStore } from "../recording/recording_sqlite.ts";
import { openSqliteStore } from "../store/sqlite.ts";
import type { RelayBackends } from "./relay_backends.ts";

/**
 * Opens (creating and migrating) `data/relay.db`; logins and the audit log are tables of the
 * same database, recordings are indexed there and kept as files under `data/recordings/`.
 * A data folder or file others may read or replace is refused with a {@linkcode UserError}.
 *
 * @example
 * ```ts
 * const { store, logins } = await openEmbeddedBackends(".cmdop-relay", console.error);
 * ```
 */
export async function openEmbeddedBackends(
  data: string,
  log: (message: string) => void,
): Promise<RelayBackends> {
  const unsafe = (error: unknown): never => {
    if (error instanceof UnsafeFileError) throw new UserError(error.message, { cause: error });
    throw error;
  };
  const store = await openSqliteStore(data, log).catch(unsafe);
  const recordings = await SqliteRecordingStore.open(store.db, data, log)
    .catch(async (error) => {
      await store.close();
      return unsafe(error);
    });
  return {
    kind: "embedded",
    store,
    logins: new SqliteLoginStore(store.db),
    audit: new SqliteAuditStore(store.db),
    recordings,
  };
}
