/**
 * The relay's schema, written once for both databases as numbered migrations.
 *
 * SQLite (the embedded relay) counts the migrations it ran in `PRAGMA user_version`; PostgreSQL
 * (a cluster) in its `cmdop_schema` table. Migration N (1-based) is `…_MIGRATIONS[N - 1]`.
 * Append only: a released migration never changes, its text is pinned by `schema_test.ts`. A
 * step marked `only: "postgres"` exists in a cluster alone (a cluster has nodes that can die
 * while their agents live on), so the two lists number their later steps differently.
 */

/** What differs between the two databases; everything else is the same SQL. */
export interface Dialect {
  name: "sqlite" | "postgres";
  /** A 64-bit integer: unix milliseconds, byte counts. */
  big: string;
  /** A boolean column type, and its false literal. */
  bool: string;
  no: string;
  /** An auto-numbered 64-bit primary key. */
  serialKey: string;
  /** Statements that make `table` refuse updates and deletes, whatever code runs against it. */
  appendOnly(table: string): string;
}

const SQLITE: Dialect = {
  name: "sqlite",
  big: "INTEGER",
  bool: "INTEGER",
  no: "0",
  serialKey: "INTEGER PRIMARY KEY AUTOINCREMENT",
  appendOnly: (table) =>
    `CREATE TRIGGER ${table}_no_update BEFORE UPDATE ON ${table}
       BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
     CREATE TRIGGER ${table}_no_delete BEFORE DELETE ON ${table}
       BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;`,
};

const POSTGRES: Dialect = {
  name: "postgres",
  big: "BIGINT",
  bool: "BOOLEAN",
  no: "false",
  serialKey: "BIGSERIAL PRIMARY KEY",
  appendOnly: (table) =>
    `CREATE RULE ${table}_no_update AS ON UPDATE TO ${table} DO INSTEAD NOTHING;
     CREATE RULE ${table}_no_delete AS ON DELETE TO ${table} DO INSTEAD NOTHING;`,
};

interface Step {
  /** Set on a step only one database runs. */
  only?: Dialect["name"];
  sql(d: Dialect): string;
}

/** Both databases' migrations, in order. A new one goes at the end. */
const STEPS: Step[] = [
  // Workspaces, their API keys and enroll tokens, machines, machine tokens, share links.
  {
    sql: (d) =>
      `CREATE TABLE workspaces (
         id TEXT PRIMARY KEY,
         name TEXT NOT NULL UNIQUE,
         created_ms ${d.big} NOT NULL
       );
       CREATE TABLE api_keys (
         key_hash TEXT PRIMARY KEY,
         workspace_id TEXT NOT NULL REFERENCES workspaces(id),
         created_ms ${d.big} NOT NULL
       );
       CREATE TABLE enroll_tokens (
         token_hash TEXT PRIMARY KEY,
         workspace_id TEXT NOT NULL REFERENCES workspaces(id),
         created_ms ${d.big} NOT NULL
       );
       CREATE TABLE machines (
         id TEXT PRIMARY KEY,
         workspace_id TEXT NOT NULL REFERENCES workspaces(id),
         hostname TEXT NOT NULL,
         display_name TEXT NOT NULL,
         os TEXT NOT NULL,
         arch TEXT NOT NULL,
         agent_version TEXT NOT NULL,
         secret_hash TEXT NOT NULL,
         password_hash TEXT,
         created_ms ${d.big} NOT NULL,
         last_seen_ms ${d.big} NOT NULL
       );
       CREATE INDEX machines_workspace ON machines(workspace_id);
       CREATE TABLE machine_tokens (
         token_hash TEXT PRIMARY KEY,
         machine_id TEXT NOT NULL REFERENCES machines(id),
         expires_ms ${d.big} NOT NULL
       );
       CREATE TABLE shares (
         id TEXT PRIMARY KEY,
         workspace_id TEXT NOT NULL REFERENCES workspaces(id),
         machine_id TEXT NOT NULL REFERENCES machines(id),
         token_hash TEXT NOT NULL UNIQUE,
         created_ms ${d.big} NOT NULL,
         expires_ms ${d.big} NOT NULL,
         revoked_ms ${d.big}
       );
       CREATE INDEX shares_workspace ON shares(workspace_id);`,
  },
  // One lease row per running relay process; an agent is online while the node that holds it
  // keeps its lease. The lease is compared with the database's clock, so the nodes' clocks
  // never need to agree.
  {
    only: "postgres",
    sql: () =>
      `CREATE TABLE relay_nodes (
         instance_id TEXT PRIMARY KEY,
         node_id TEXT NOT NULL,
         started_ms BIGINT NOT NULL,
         lease_until TIMESTAMPTZ NOT NULL
       );
       CREATE TABLE agent_presence (
         machine_id TEXT PRIMARY KEY REFERENCES machines(id) ON DELETE CASCADE,
         instance_id TEXT NOT NULL REFERENCES relay_nodes(instance_id) ON DELETE CASCADE,
         link_id TEXT NOT NULL,
         since_ms BIGINT NOT NULL,
         last_seen_ms BIGINT NOT NULL
       );
       CREATE INDEX agent_presence_instance ON agent_presence(instance_id);`,
  },
  // Users of `cmdop login`, the workspaces they may act in, device codes and login tokens.
  {
    sql: (d) =>
      `CREATE TABLE users (
         id TEXT PRIMARY KEY,
         email TEXT NOT NULL UNIQUE,
         password_hash TEXT NOT NULL,
         created_ms ${d.big} NOT NULL
       );
       CREATE TABLE user_workspaces (
         user_id TEXT NOT NULL REFERENCES users(id),
         workspace_id TEXT NOT NULL REFERENCES workspaces(id),
         created_ms ${d.big} NOT NULL,
         PRIMARY KEY (user_id, workspace_id)
       );
       CREATE TABLE device_codes (
         device_code_hash TEXT PRIMARY KEY,
         user_code TEXT NOT NULL UNIQUE,
         client_id TEXT NOT NULL,
         created_ms ${d.big} NOT NULL,
         expires_ms ${d.big} NOT NULL,
         interval_s INTEGER NOT NULL,
         last_poll_ms ${d.big},
         status TEXT NOT NULL,
         user_id TEXT REFERENCES users(id)
       );${
        // Released this way: a cluster sweeps expired codes by this index, SQLite scans.
        d.name === "postgres"
          ? "\nCREATE INDEX device_codes_expires ON device_codes(expires_ms);"
          : ""}
       CREATE TABLE login_grants (
         id TEXT PRIMARY KEY,
         user_id TEXT NOT NULL REFERENCES users(id),
         created_ms ${d.big} NOT NULL,
         revoked_ms ${d.big}
       );
       CREATE TABLE login_tokens (
         token_hash TEXT PRIMARY KEY,
         kind TEXT NOT NULL,
         grant_id TEXT NOT NULL REFERENCES login_grants(id),
         expires_ms ${d.big} NOT NULL,
         used_ms ${d.big}
       );
       CREATE INDEX login_tokens_grant ON login_tokens(grant_id);`,
  },
  // Lock-outs counted in the store; machine names looked up by workspace; enroll token expiry.
  {
    sql: (d) =>
      `CREATE TABLE attempts (
         key TEXT PRIMARY KEY,
         failures INTEGER NOT NULL,
         locked_until_ms ${d.big} NOT NULL,
         updated_ms ${d.big} NOT NULL
       );
       CREATE INDEX attempts_updated ON attempts(updated_ms);
       CREATE INDEX machines_hostname ON machines(workspace_id, lower(hostname));
       CREATE INDEX machines_display_name ON machines(workspace_id, lower(display_name));
       ALTER TABLE enroll_tokens ADD COLUMN expires_ms ${d.big} NOT NULL DEFAULT 0;`,
  },
  // Machine labels (env=prod), a JSON object as the agent last sent it.
  { sql: () => `ALTER TABLE machines ADD COLUMN labels TEXT NOT NULL DEFAULT '{}';` },
  // Which machines may act as clients of their workspace: a JSON array of label selectors.
  { sql: () => `ALTER TABLE workspaces ADD COLUMN machine_clients TEXT NOT NULL DEFAULT '[]';` },
  // Which machines those clients may reach: a JSON array of label selectors, [] = all of them.
  {
    sql: () => `ALTER TABLE workspaces ADD COLUMN machine_client_reach TEXT NOT NULL DEFAULT '[]';`,
  },
  // The audit log (src/relay/audit/). No foreign keys: events outlive the machines and shares
  // they name. Append-only whatever code runs against the database.
  {
    sql: (d) =>
      `CREATE TABLE audit_events (
         seq ${d.serialKey},
         workspace_id TEXT NOT NULL,
         time_ms ${d.big} NOT NULL,
         kind TEXT NOT NULL,
         actor_kind TEXT NOT NULL,
         actor_id TEXT NOT NULL,
         peer TEXT NOT NULL,
         machine_id TEXT NOT NULL,
         machine_name TEXT NOT NULL,
         detail TEXT NOT NULL
       );
       CREATE INDEX audit_events_workspace_time ON audit_events(workspace_id, time_ms, seq);
       ${d.appendOnly("audit_events")}`,
  },
  // Read-only share links, and who minted each (the terminal a read-only link watches is theirs).
  {
    sql: (d) =>
      `ALTER TABLE shares ADD COLUMN read_only ${d.bool} NOT NULL DEFAULT ${d.no};
       ALTER TABLE shares ADD COLUMN owner TEXT NOT NULL DEFAULT '';`,
  },
  // Session recordings (src/relay/recording/): the workspace's opt-in, and one index row per
  // recorded session. The asciicast bytes are files in the embedded relay's data folder, and
  // chunks in PostgreSQL on a cluster, so that any node replays what any node recorded.
  {
    sql: (d) =>
      `ALTER TABLE workspaces ADD COLUMN session_recording ${d.bool} NOT NULL DEFAULT ${d.no};
       CREATE TABLE recordings (
         id TEXT PRIMARY KEY,
         workspace_id TEXT NOT NULL,
         machine_id TEXT NOT NULL,
         machine_name TEXT NOT NULL,
         actor_kind TEXT NOT NULL,
         actor_id TEXT NOT NULL,
         kind TEXT NOT NULL,
         argv TEXT NOT NULL,
         width INTEGER NOT NULL,
         height INTEGER NOT NULL,
         started_ms ${d.big} NOT NULL,
         ended_ms ${d.big},
         bytes ${d.big} NOT NULL DEFAULT 0,
         output_bytes ${d.big} NOT NULL DEFAULT 0,
         truncated ${d.bool} NOT NULL DEFAULT ${d.no},
         gap_bytes ${d.big} NOT NULL DEFAULT 0,
         exit_code INTEGER
       );
       CREATE INDEX recordings_workspace_started ON recordings(workspace_id, started_ms);
       CREATE INDEX recordings_started ON recordings(started_ms);${
        d.name === "postgres"
          ? `
       CREATE TABLE recording_chunks (
         recording_id TEXT NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
         seq INTEGER NOT NULL,
         data BYTEA NOT NULL,
         PRIMARY KEY (recording_id, seq)
       );`
          : ""
      }`,
  },
];

function migrationsFor(dialect: Dialect): string[] {
  return STEPS.filter((step) => !step.only || step.only === dialect.name).map((step) =>
    step.sql(dialect)
  );
}

/** The embedded store's migrations (`PRAGMA user_version` counts those run). */
export const SQLITE_MIGRATIONS: readonly string[] = migrationsFor(SQLITE);

/** A cluster's migrations (`cmdop_schema` records those run). */
export const POSTGRES_MIGRATIONS: readonly string[] = migrationsFor(POSTGRES);
