/** The embedded store's schema as numbered migrations (PRAGMA user_version counts them). */

export const SQLITE_MIGRATIONS: string[] = [
  `CREATE TABLE workspaces (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL UNIQUE,
     created_ms INTEGER NOT NULL
   );
   CREATE TABLE api_keys (
     key_hash TEXT PRIMARY KEY,
     workspace_id TEXT NOT NULL REFERENCES workspaces(id),
     created_ms INTEGER NOT NULL
   );
   CREATE TABLE enroll_tokens (
     token_hash TEXT PRIMARY KEY,
     workspace_id TEXT NOT NULL REFERENCES workspaces(id),
     created_ms INTEGER NOT NULL
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
     created_ms INTEGER NOT NULL,
     last_seen_ms INTEGER NOT NULL
   );
   CREATE INDEX machines_workspace ON machines(workspace_id);
   CREATE TABLE machine_tokens (
     token_hash TEXT PRIMARY KEY,
     machine_id TEXT NOT NULL REFERENCES machines(id),
     expires_ms INTEGER NOT NULL
   );
   CREATE TABLE shares (
     id TEXT PRIMARY KEY,
     workspace_id TEXT NOT NULL REFERENCES workspaces(id),
     machine_id TEXT NOT NULL REFERENCES machines(id),
     token_hash TEXT NOT NULL UNIQUE,
     created_ms INTEGER NOT NULL,
     expires_ms INTEGER NOT NULL,
     revoked_ms INTEGER
   );
   CREATE INDEX shares_workspace ON shares(workspace_id);`,
  // 2: users of `cmdop login`, the workspaces they may act in, device codes and login tokens.
  `CREATE TABLE users (
     id TEXT PRIMARY KEY,
     email TEXT NOT NULL UNIQUE,
     password_hash TEXT NOT NULL,
     created_ms INTEGER NOT NULL
   );
   CREATE TABLE user_workspaces (
     user_id TEXT NOT NULL REFERENCES users(id),
     workspace_id TEXT NOT NULL REFERENCES workspaces(id),
     created_ms INTEGER NOT NULL,
     PRIMARY KEY (user_id, workspace_id)
   );
   CREATE TABLE device_codes (
     device_code_hash TEXT PRIMARY KEY,
     user_code TEXT NOT NULL UNIQUE,
     client_id TEXT NOT NULL,
     created_ms INTEGER NOT NULL,
     expires_ms INTEGER NOT NULL,
     interval_s INTEGER NOT NULL,
     last_poll_ms INTEGER,
     status TEXT NOT NULL,
     user_id TEXT REFERENCES users(id)
   );
   CREATE TABLE login_grants (
     id TEXT PRIMARY KEY,
     user_id TEXT NOT NULL REFERENCES users(id),
     created_ms INTEGER NOT NULL,
     revoked_ms INTEGER
   );
   CREATE TABLE login_tokens (
     token_hash TEXT PRIMARY KEY,
     kind TEXT NOT NULL,
     grant_id TEXT NOT NULL REFERENCES login_grants(id),
     expires_ms INTEGER NOT NULL,
     used_ms INTEGER
   );
   CREATE INDEX login_tokens_grant ON login_tokens(grant_id);`,
  // 3: lock-outs counted in the store; machine names looked up by workspace; enroll token expiry.
  `CREATE TABLE attempts (
     key TEXT PRIMARY KEY,
     failures INTEGER NOT NULL,
     locked_until_ms INTEGER NOT NULL,
     updated_ms INTEGER NOT NULL
   );
   CREATE INDEX attempts_updated ON attempts(updated_ms);
   CREATE INDEX machines_hostname ON machines(workspace_id, lower(hostname));
   CREATE INDEX machines_display_name ON machines(workspace_id, lower(display_name));
   ALTER TABLE enroll_tokens ADD COLUMN expires_ms INTEGER NOT NULL DEFAULT 0;`,
  // 4: machine labels (env=prod), a JSON object as the agent last sent it.
  `ALTER TABLE machines ADD COLUMN labels TEXT NOT NULL DEFAULT '{}';`,
  // 5: which machines may act as clients of their workspace: a JSON array of label selectors.
  `ALTER TABLE workspaces ADD COLUMN machine_clients TEXT NOT NULL DEFAULT '[]';`,
  // 6: which machines those clients may reach: a JSON array of label selectors, [] = all of them.
  `ALTER TABLE workspaces ADD COLUMN machine_client_reach TEXT NOT NULL DEFAULT '[]';`,
  // 7: the audit log (src/relay/audit/). No foreign keys: events outlive the machines and
  // shares they name. The triggers keep it append-only whatever code runs against the file.
  `CREATE TABLE audit_events (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     workspace_id TEXT NOT NULL,
     time_ms INTEGER NOT NULL,
     kind TEXT NOT NULL,
     actor_kind TEXT NOT NULL,
     actor_id TEXT NOT NULL,
     peer TEXT NOT NULL,
     machine_id TEXT NOT NULL,
     machine_name TEXT NOT NULL,
     detail TEXT NOT NULL
   );
   CREATE INDEX audit_events_workspace_time ON audit_events(workspace_id, time_ms, seq);
   CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
     BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
   CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
     BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;`,
  // 8: read-only share links, and who minted each (the terminal a read-only link watches is theirs).
  `ALTER TABLE shares ADD COLUMN read_only INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE shares ADD COLUMN owner TEXT NOT NULL DEFAULT '';`,
  // 9: session recordings (src/relay/recording/): the workspace's opt-in, and one index row per
  // recorded session; the asciicast files are in the data folder's recordings/ (one per session).
  `ALTER TABLE workspaces ADD COLUMN session_recording INTEGER NOT NULL DEFAULT 0;
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
     started_ms INTEGER NOT NULL,
     ended_ms INTEGER,
     bytes INTEGER NOT NULL DEFAULT 0,
     output_bytes INTEGER NOT NULL DEFAULT 0,
     truncated INTEGER NOT NULL DEFAULT 0,
     gap_bytes INTEGER NOT NULL DEFAULT 0,
     exit_code INTEGER
   );
   CREATE INDEX recordings_workspace_started ON recordings(workspace_id, started_ms);
   CREATE INDEX recordings_started ON recordings(started_ms);`,
];
