/** RelayDeps: what the relay's services are built from. */
import type { Logger } from "../lib/log.ts";
import type { AuditLog } from "./audit/audit_log.ts";
import type { Bus } from "./bus/bus.ts";
import type { PasswordLimiters } from "./rate_limit.ts";
import type { Recordings } from "./recording/recordings.ts";
import type { Store } from "./store/store.ts";

export interface RelayDeps {
  store: Store;
  bus: Bus;
  /** Unix ms; injected so expiry rules can be tested with a fake clock. */
  now(): number;
  /** The URL clients and agents reach this relay at (used in share links). */
  publicUrl: string;
  passwordLimiters: PasswordLimiters;
  /** How often agents' control streams and sessions are pinged (see `lib/keepalive.ts`). */
  keepaliveMs: number;
  /** One line of operator-facing log. */
  log: Logger;
  /** The workspace-facing audit log (sessions, shares, keys, logins, passwords). */
  audit: AuditLog;
  /** Session recordings of the workspaces that opted in. */
  recordings: Recordings;
}
