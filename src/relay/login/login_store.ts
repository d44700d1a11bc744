/** LoginStore: the relay's users, their workspaces, device codes and login tokens, behind an interface. */
import type { WorkspaceRecord } from "../store/store.ts";

/** A person who signs in with `cmdop login`. */
export interface UserRecord {
  id: string;
  /** Lower-cased; unique. */
  email: string;
  /** bcrypt. */
  passwordHash: string;
  createdMs: number;
}

/** Where a device authorization (RFC 8628) stands. */
export type DeviceCodeStatus = "pending" | "approved" | "denied" | "consumed";

/** One `cmdop login` waiting for, or past, its approval on the /device page. */
export interface DeviceCodeRecord {
  /** SHA-256 of the device code; the code itself only the CLI knows. */
  deviceCodeHash: string;
  /** What the user types on the /device page: 8 letters, stored without the dash. */
  userCode: string;
  clientId: string;
  createdMs: number;
  expiresMs: number;
  /** Seconds the client must wait between polls; grows by 5 with each slow_down. */
  intervalS: number;
  lastPollMs: number | null;
  status: DeviceCodeStatus;
  /** Who approved (or denied) it. */
  userId: string | null;
}

/** An access or refresh token of one login (a grant). */
export interface LoginTokenRecord {
  tokenHash: string;
  kind: "access" | "refresh";
  grantId: string;
  userId: string;
  expiresMs: number;
  /** When a refresh token was exchanged; each one works once. */
  usedMs: number | null;
  /** When the whole login was revoked (logout, or a refresh token used twice). */
  grantRevokedMs: number | null;
}

/** Fields of a device code that change after it is created. */
export type DeviceCodeChange = Partial<
  Pick<DeviceCodeRecord, "status" | "userId" | "lastPollMs" | "intervalS">
>;

/**
 * Durable login state. Secrets never reach it, only their hashes. Kept apart from
 * `Store` so that relays without user login need none of it.
 */
export interface LoginStore {
  /** Fails with `ConflictError` when the email is taken. */
  insertUser(user: UserRecord): Promise<void>;
  userByEmail(email: string): Promise<UserRecord | undefined>;
  userById(id: string): Promise<UserRecord | undefined>;
  setUserPassword(userId: string, passwordHash: string): Promise<void>;
  /** Idempotent. */
  grantWorkspace(userId: string, workspaceId: string, nowMs: number): Promise<void>;
  /** The user's workspaces, by name. */
  userWorkspaces(userId: string): Promise<WorkspaceRecord[]>;

  /** Also forgets device codes that expired long ago. */
  insertDeviceCode(code: DeviceCodeRecord): Promise<void>;
  deviceCodeByHash(hash: string): Promise<DeviceCodeRecord | undefined>;
  deviceCodeByUserCode(userCode: string): Promise<DeviceCodeRecord | undefined>;
  updateDeviceCode(hash: string, change: DeviceCodeChange): Promise<void>;
  /** Moves an approved code to consumed; false when it was not approved (any more). */
  consumeDeviceCode(hash: string): Promise<boolean>;

  insertGrant(id: string, userId: string, createdMs: number): Promise<void>;
  revokeGrant(id: string, nowMs: number): Promise<void>;
  insertLoginToken(
    token: Omit<LoginTokenRecord, "usedMs" | "grantRevokedMs" | "userId">,
  ): Promise<void>;
  loginToken(tokenHash: string): Promise<LoginTokenRecord | undefined>;
  /** Marks a refresh token used; false when it already was (so two callers never both win). */
  useRefreshToken(tokenHash: string, nowMs: number): Promise<boolean>;
}
