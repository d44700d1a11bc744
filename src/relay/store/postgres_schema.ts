/** The PostgreSQL store's schema as numbered migrations; `cmdop_schema` records which have run. */

/**
 * Migration N (1-based) is `POSTGRES_MIGRATIONS[N - 1]`. Append only: a
 * released migration never changes. Migrations 1 and 3 mirror the SQLite
 * schema's 1 and 2 (unix-ms columns as BIGINT); the presence tables of 2
 * exist only here, because only a cluster has nodes that can die while their
 * agents live on.
 */
export const POSTGRES_MIGRATIONS: string[] = [
  `CREATE TABLE workspaces (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL UNIQUE,
     created_ms BIGINT NOT NULL
   );
   CREATE TABLE api_keys (
     key_hash TEXT PRIMARY KEY,
     workspace_id TEXT NOT NULL REFERENCES workspaces(id),
     created_ms BIGINT NOT NULL
   );
   CREATE TABLE enroll_tokens (
     token_hash TEXT PRIMARY KEY,
     workspace_id TEXT NOT NULL REFERENCES workspaces(id),
     created_ms BIGINT NOT NULL
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
     created_ms BIGINT NOT NULL,
     last_seen_ms BIGINT NOT NULL
   );
   CREATE INDEX machines_workspace ON machines(workspace_id);
   CREATE TABLE machine_tokens (
     token_hash TEXT PRIMARY KEY,
     machine_id TEXT NOT NULL REFERENCES machines(id),
     expires_ms BIGINT NOT NULL
   );
   CREATE TABLE shares (
     id TEXT PRIMARY KEY,
     workspace_id TEXT NOT NULL REFERENCES workspaces(id),
     machine_id TEXT NOT NULL REFERENCES machines(id),
     token_hash TEXT NOT NULL UNIQUE,
     created_ms BIGINT NOT NULL,
     expires_ms BIGINT NOT NULL,
     revoked_ms BIGINT
   );
   CREATE INDEX shares_workspace ON shares(workspace_id);`,

  // One lease row per running relay process; an agent is online while the
  // node that holds it keeps its lease. The lease is compared with the
  // database's clock, so the nodes' clocks never need to agree.
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

  // Users of `cmdop login`, the workspaces they may act in, device codes and login tokens.
  `CREATE TABLE users (
     id TEXT PRIMARY KEY,
     email TEXT NOT NULL UNIQUE,
     password_hash TEXT NOT NULL,
     created_ms BIGINT NOT NULL
   );
   CREATE TABLE user_workspaces (
     user_id TEXT NOT NULL REFERENCES users(id),
     workspace_id TEXT NOT NULL REFERENCES workspaces(id),
     created_ms BIGINT NOT NULL,
     PRIMARY KEY (user_id, workspace_id)
   );
   CREATE TABLE device_codes (
     device_code_hash TEXT PRIMARY KEY,
     user_code TEXT NOT NULL UNIQUE,
     client_id TEXT NOT NULL,
     created_ms BIGINT NOT NULL,
     expires_ms BIGINT NOT NULL,
     interval_s INTEGER NOT NULL,
     last_poll_ms BIGINT,
     status TEXT NOT NULL,
     user_id TEXT REFERENCES users(id)
   );
   CREATE INDEX device_codes_expires ON device_codes(expires_ms);
   CREATE TABLE login_grants (
     id TEXT PRIMARY KEY,
     user_id TEXT NOT NULL REFERENCES users(id),
     created_ms BIGINT NOT NULL,
     revoked_ms BIGINT
   );
   CREATE TABLE login_tokens (
     token_hash TEXT PRIMARY KEY,
     kind TEXT NOT NULL,
     grant_id TEXT NOT NULL REFERENCES login_grants(id),
     expires_ms BIGINT NOT NULL,
     used_ms BIGINT
   );
   CREATE INDEX login_tokens_grant ON login_tokens(grant_id);`,

  // Lock-outs counted in the store; machine names looked up by workspace; enroll token expiry.
  `CREATE TABLE attempts (
     key TEXT PRIMARY KEY,
     failures INTEGER NOT NULL,
     locked_until_ms BIGINT NOT NULL,
     updated_ms BIGINT NOT NULL
   );
   CREATE INDEX attempts_updated ON attempts(updated_ms);
   CREATE INDEX machines_hostname ON machines(workspace_id, lower(hostname));
   CREATE INDEX machines_display_name ON machines(workspace_id, lower(display_name));
   ALTER TABLE enroll_tokens ADD COLUMN expires_ms BIGINT NOT NULL DEFAULT 0;`,

  // Machine labels (env=prod), a JSON object as the agent last sent it (SQLite's 4).
  `ALTER TABLE machines ADD COLUMN labels TEXT NOT NULL DEFAULT '{}';`,

  // Which machines may act as clients of their workspace, a JSON array of label selectors (SQLite's 5).
  `ALTER TABLE workspaces ADD COLUMN machine_clients TEXT NOT NULL DEFAULT '[]';`,

  // Which machines those clients may reach, a JSON array of label selectors, [] = all (SQLite's 6).
  `ALTER TABLE workspaces ADD COLUMN machine_client_reach TEXT NOT NULL DEFAULT '[]';`,

  // The audit log, shared by every node (SQLite's 7); the rules keep it append-only.
  `CREATE TABLE audit_events (
     seq BIGSERIAL PRIMARY KEY,
     workspace_id TEXT NOT NULL,
     time_ms BIGINT NOT NULL,
     kind TEXT NOT NULL,
     actor_kind TEXT NOT NULL,
     actor_id TEXT NOT NULL,
     peer TEXT NOT NULL,
     machine_id TEXT NOT NULL,
     machine_name TEXT NOT NULL,
     detail TEXT NOT NULL
   );
   CREATE INDEX audit_events_workspace_time ON audit_events(workspace_id, time_ms, seq);
   CREATE RULE audit_events_no_update AS ON UPDATE TO audit_events DO INSTEAD NOTHING;
   CREATE RULE audit_events_no_delete AS ON DELETE TO audit_events DO INSTEAD NOTHING;`,

  // Read-only share links, and who minted each (SQLite's 8).
  `ALTER TABLE shares ADD COLUMN read_only BOOLEAN NOT NULL DEFAULT false;
   ALTER TABLE shares ADD COLUMN owner TEXT NOT NULL DEFAULT '';`,

  // Session recordings (SQLite's 9): the workspace's opt-in, an index row per recorded session,
  // and the asciicast bytes themselves in chunks, so that any node replays what any node recorded.
  `ALTER TABLE workspaces ADD COLUMN session_recording BOOLEAN NOT NULL DEFAULT FALSE;
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
     started_ms BIGINT NOT NULL,
     ended_ms BIGINT,
     bytes BIGINT NOT NULL DEFAULT 0,
     output_bytes BIGINT NOT NULL DEFAULT 0,
     truncated BOOLEAN NOT NULL DEFAULT FALSE,
     gap_bytes BIGINT NOT NULL DEFAULT 0,
     exit_code INTEGER
   );
   CREATE INDEX recordings_workspace_started ON recordings(workspace_id, started_ms);
   CREATE INDEX recordings_started ON recordings(started_ms);
   CREATE TABLE recording_chunks (
     recording_id TEXT NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
     seq INTEGER NOT NULL,
     data BYTEA NOT NULL,
     PRIMARY KEY (recording_id, seq)
   );`,
];

/** Key of the advisory lock that serialises migrations across nodes starting together. */
export const MIGRATION_LOCK_KEY = 0x636d646f70; // "cmdop"
