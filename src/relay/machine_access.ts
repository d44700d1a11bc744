/** Password-protected machines: checking attach passwords and the 24 h machine tokens they earn. */
import { Code, ConnectError } from "@connectrpc/connect";
import { hashSecret, newSecret } from "../lib/secrets.ts";
import { SecretPrefix } from "./principal.ts";
import type { RelayDeps } from "./deps.ts";
import { verifyPassword } from "./passwords.ts";
import type { PasswordLimiters } from "./rate_limit.ts";

export type { PasswordLimiters } from "./rate_limit.ts";
import type { MachineRecord } from "./store/store.ts";
import type { AuditActor } from "./audit/audit_log.ts";

/** How long a proven password opens a machine. */
export const MACHINE_TOKEN_TTL_MS = 24 * 60 * 60 * 1000;

/** True when the token was issued for this machine and has not expired. */
export async function machineTokenValid(
  deps: RelayDeps,
  machine: MachineRecord,
  token: string,
): Promise<boolean> {
  if (!token) return false;
  const record = await deps.store.machineToken(await hashSecret(token));
  return record !== undefined && record.machineId === machine.id &&
    record.expiresMs > deps.now();
}

/**
 * The relay's default lock-out rules.
 *
 * @example
 * ```ts
 * const deps = { ...rest, passwordLimiters: createPasswordLimiters() };
 * ```
 */
export function createPasswordLimiters(): PasswordLimiters {
  return { perSource: { freeFailures: 3 }, perMachine: { freeFailures: 20 } };
}

/**
 * Verifies an attach password under the limiter (per machine and per source)
 * and mints a machine token. Throws Unauthenticated on a wrong password and
 * ResourceExhausted while locked out. Each outcome is an audit event of `actor` from
 * `source` (never with the password).
 */
export async function unlockMachine(
  deps: RelayDeps,
  limiters: PasswordLimiters,
  machine: MachineRecord,
  password: string,
  source: string,
  actor: AuditActor,
): Promise<{ token: string; expiresMs: number }> {
  const audit = (kind: string, reason?: string) =>
    deps.audit.record({
      workspaceId: machine.workspaceId,
      kind,
      actor,
      peer: source,
      machine,
      detail: { reason },
    });
  if (!machine.passwordHash) {
    throw new ConnectError("machine has no attach password", Code.FailedPrecondition);
  }
  // Each guess is counted in the store before bcrypt runs, so concurrent guesses, a
  // restart or another node of a cluster cannot get more than the rules allow.
  const sourceKey = `machine|${machine.id}|${source}`;
  const machineKey = `machine|${machine.id}`;
  const now = deps.now();
  let waitMs = await deps.store.takeAttempt(sourceKey, limiters.perSource, now);
  if (waitMs === 0) {
    waitMs = await deps.store.takeAttempt(machineKey, limiters.perMachine, now);
    if (waitMs > 0) await deps.store.settleAttempt(sourceKey, "refund");
  }
  if (waitMs > 0) {
    audit("password.failed", "locked out after too many wrong passwords");
    throw new ConnectError(
      `too many wrong passwords for this machine; try again in ${Math.ceil(waitMs / 1000)}s`,
      Code.ResourceExhausted,
    );
  }
  if (!(await verifyPassword(password, machine.passwordHash))) {
    await deps.store.settleAttempt(sourceKey, "failed", deps.now());
    await deps.store.settleAttempt(machineKey, "failed", deps.now());
    audit("password.failed", "wrong password");
    throw new ConnectError("wrong password for this machine", Code.Unauthenticated);
  }
  await deps.store.settleAttempt(sourceKey, "forget");
  await deps.store.settleAttempt(machineKey, "refund");
  const token = newSecret(SecretPrefix.machineToken);
  const expiresMs = deps.now() + MACHINE_TOKEN_TTL_MS;
  await deps.store.insertMachineToken({
    tokenHash: await hashSecret(token),
    machineId: machine.id,
    expiresMs,
  });
  audit("password.unlocked");
  return { token, expiresMs };
}
