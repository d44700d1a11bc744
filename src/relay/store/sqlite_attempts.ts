/** The embedded store's lock-out counters (`attempts`): the statements behind `Store.takeAttempt` and `settleAttempt`. */
import { ATTEMPT_KEEP_MS, type AttemptRule, lockoutMs } from "../rate_limit.ts";
import type { SqliteStatements } from "./sqlite_db.ts";
import type { AttemptOutcome } from "./store.ts";

/**
 * Counts one attempt on `key` as a failure unless it is locked out (returns the ms to
 * wait); forgets rows untouched for a day. Must run inside the caller's transaction.
 *
 * @example
 * ```ts
 * const waitMs = transaction(() => takeAttempt(sql, "machine|id", rule, now));
 * ```
 */
export function takeAttempt(
  sql: SqliteStatements,
  key: string,
  rule: AttemptRule,
  nowMs: number,
): number {
  sql.run("DELETE FROM attempts WHERE updated_ms < ?", nowMs - ATTEMPT_KEEP_MS);
  const row = sql.get("SELECT * FROM attempts WHERE key = ?", key);
  const lockedUntil = row ? Number(row.locked_until_ms) : 0;
  if (lockedUntil > nowMs) return lockedUntil - nowMs;
  const failures = (row ? Number(row.failures) : 0) + 1;
  sql.run(
    `INSERT INTO attempts (key, failures, locked_until_ms, updated_ms) VALUES (?, ?, ?, ?)
      ON CONFLICT (key) DO UPDATE SET failures = excluded.failures,
        locked_until_ms = excluded.locked_until_ms, updated_ms = excluded.updated_ms`,
    key,
    failures,
    nowMs + lockoutMs(rule, failures),
    nowMs,
  );
  return 0;
}

/**
 * Settles the attempt just taken (see `Store.settleAttempt`).
 *
 * @example
 * ```ts
 * settleAttempt(sql, "machine|id", "forget");
 * ```
 */
export function settleAttempt(
  sql: SqliteStatements,
  key: string,
  outcome: AttemptOutcome,
  nowMs = 0,
): void {
  if (outcome === "forget") sql.run("DELETE FROM attempts WHERE key = ?", key);
  else if (outcome === "refund") {
    sql.run("UPDATE attempts SET failures = max(failures - 1, 0) WHERE key = ?", key);
  } else {
    sql.run(
      `UPDATE attempts SET locked_until_ms = ? + (locked_until_ms - updated_ms), updated_ms = ?
        WHERE key = ?`,
      nowMs,
      nowMs,
      key,
    );
  }
}
