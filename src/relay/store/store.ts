/** Store: the relay's durable state, behind an interface so SQLite and PostgreSQL are interchangeable. */
import type { Labels } from "../../lib/labels.ts";
import type { AttemptRule } from "../rate_limit.ts";

export interface WorkspaceRecord {
  id: string;
  name: string;
  createdMs: number;
}

export interface MachineRecord {
  id: string;
  workspaceId: string;
  hostname: string;
  displayName: string;
  os: string;
  arch: string;
  agentVersion: string;
  /** SHA-256 of the machine credential's secret. */
  secretHash: string;
  /** bcrypt hash of the attach password, when the machine has one. */
  passwordHash: string | null;
  createdMs: number;
  lastSeenMs: number;
  /** What its agent last said in its hello (`env=prod`); `{}` before that. */
  labels: Labels;
}

export interface ShareRecord {
  id: string;
  workspaceId: string;
  machineId: string;
  tokenHash: string;
  createdMs: number;
  /** 0 = never expires. */
  expiresMs: number;
  revokedMs: number | null;
  /** Watches its owner's terminal, sends nothing (see {@linkcode ClientPrincipal}). */
  readOnly: boolean;
  /** Who minted it (`api_key:<fingerprint>`, `user:<id>`): whose terminal a read-only link watches. */
  owner: string;
}

/** A 24 h token proving that a client knew a machine's attach password. */
export interface MachineTokenRecord {
  tokenHash: string;
  machineId: string;
  expiresMs: number;
}

/** Fields an agent may update about itself. */
export type MachineInfo = Pick<
  MachineRecord,
  "hostname" | "displayName" | "os" | "arch" | "agentVersion" | "labels"
>;

/**
 * A workspace's machine-clients setting. A selector is a set of labels that must all
 * match; a machine matching any one selector of a list matches the list.
 */
export interface MachineClientsSetting {
  /** The machines that may act as clients; `[]`, the default, lets none. */
  allowFrom: Labels[];
  /** The machines those clients may reach; `[]` reaches every machine of the workspace. */
  reach: Labels[];
}

/**
 * Durable relay state. Secrets never reach it: only their hashes.
 * Every method is async so that a networked database fits behind it.
 */
export interface Store {
  /** Fails with {@linkcode ConflictError} when the name is taken. */
  insertWorkspace(workspace: WorkspaceRecord): Promise<void>;
  workspaceById(id: string): Promise<WorkspaceRecord | undefined>;
  workspaceByName(name: string): Promise<WorkspaceRecord | undefined>;
  listWorkspaces(): Promise<WorkspaceRecord[]>;
  /**
   * Which of the workspace's machines may act as its clients with their machine credential,
   * and which machines they may reach; the default lets none act as a client.
   */
  machineClients(workspaceId: string): Promise<MachineClientsSetting>;
  /** Replaces the workspace's whole machine-clients setting; false when there is no such workspace. */
  setMachineClients(workspaceId: string, setting: MachineClientsSetting): Promise<boolean>;

  insertApiKey(workspaceId: string, keyHash: string, createdMs: number): Promise<void>;
  workspaceIdByApiKey(keyHash: string): Promise<string | undefined>;
  /** `expiresMs` 0 = never expires. */
  insertEnrollToken(
    workspaceId: string,
    tokenHash: string,
    createdMs: number,
    expiresMs?: number,
  ): Promise<void>;
  /** The workspace of an enroll token that has not expired at `nowMs`. */
  workspaceIdByEnrollToken(tokenHash: string, nowMs: number): Promise<string | undefined>;
  /** Deletes API keys of the workspace whose hash starts with `hashPrefix`; returns how many. */
  deleteApiKeys(workspaceId: string, hashPrefix: string): Promise<number>;
  /** Deletes enroll tokens of the workspace whose hash starts with `hashPrefix`; returns how many. */
  deleteEnrollTokens(workspaceId: string, hashPrefix: string): Promise<number>;
  listCredentials(workspaceId: string): Promise<CredentialRecord[]>;

  /**
   * Inserts the machine unless another machine of its workspace answers to its hostname
   * or display name (ignoring case), checked and written in one atomic step so that
   * concurrent enrollments under one name cannot both pass; returns that other machine
   * (and inserts nothing), or `undefined` once inserted.
   */
  insertMachine(machine: MachineRecord): Promise<MachineRecord | undefined>;
  machineById(id: string): Promise<MachineRecord | undefined>;
  listMachines(workspaceId: string): Promise<MachineRecord[]>;
  /** Updates what an agent says of itself, atomically refusing names as {@linkcode Store.insertMachine} does. */
  updateMachineInfo(id: string, info: MachineInfo): Promise<MachineRecord | undefined>;
  /**
   * Another machine of the workspace (not `exceptId`) whose hostname or display name
   * equals one of `names`, ignoring case; `undefined` when the names are free.
   */
  machineNamed(
    workspaceId: string,
    names: string[],
    exceptId: string,
  ): Promise<MachineRecord | undefined>;
  /** Deletes a machine with its shares and tokens; false when the workspace has no such machine. */
  deleteMachine(workspaceId: string, machineId: string): Promise<boolean>;
  touchMachines(ids: string[], lastSeenMs: number): Promise<void>;
  setMachinePassword(id: string, passwordHash: string | null): Promise<void>;

  insertMachineToken(token: MachineTokenRecord): Promise<void>;
  machineToken(tokenHash: string): Promise<MachineTokenRecord | undefined>;

  insertShare(share: ShareRecord): Promise<void>;
  shareByToken(tokenHash: string): Promise<ShareRecord | undefined>;
  listShares(workspaceId: string): Promise<ShareRecord[]>;
  /** Returns false when no such share exists in the workspace. */
  revokeShare(workspaceId: string, shareId: string, nowMs: number): Promise<boolean>;

  /** Resolves when the database answers a trivial query (the relay's /readyz). */
  ping(): Promise<void>;

  /**
   * Counts one attempt on `key` before it is evaluated, in one atomic step: refused
   * (returns the milliseconds to wait) while the key is locked out; otherwise counted as
   * a failure, the lock-out it would earn set, and 0 returned. A success then settles it.
   * Rows untouched for a day are forgotten.
   */
  takeAttempt(key: string, rule: AttemptRule, nowMs: number): Promise<number>;
  /**
   * Settles the attempt just taken: after a success, "forget" the key's failures or
   * "refund" the one attempt; after a failure, "failed" restarts its lock-out from
   * `nowMs`, so a lock-out runs from when the guess was known wrong.
   */
  settleAttempt(key: string, outcome: AttemptOutcome, nowMs?: number): Promise<void>;

  close(): Promise<void>;
}

/** How an attempt taken with `Store.takeAttempt` ended. */
export type AttemptOutcome = "forget" | "refund" | "failed";

/** An API key or enroll token as the operator lists it: never the secret, a prefix of its hash. */
export interface CredentialRecord {
  kind: "api_key" | "enroll_token";
  /** The first 12 hex digits of the secret's SHA-256: enough to name it for revocation. */
  fingerprint: string;
  createdMs: number;
  /** 0 = never expires (API keys never do). */
  expiresMs: number;
}

/** A uniqueness rule was violated (e.g. a workspace name already in use). */
export class ConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConflictError";
  }
}
