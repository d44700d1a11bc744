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
];
