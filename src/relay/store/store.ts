/** Store: the relay's durable state, behind an interface so SQLite and PostgreSQL are interchangeable. */

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
  "hostname" | "displayName" | "os" | "arch" | "agentVersion"
>;

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

  insertApiKey(workspaceId: string, keyHash: string, createdMs: number): Promise<void>;
  workspaceIdByApiKey(keyHash: string): Promise<string | undefined>;
  insertEnrollToken(workspaceId: string, tokenHash: string, createdMs: number): Promise<void>;
  workspaceIdByEnrollToken(tokenHash: string): Promise<string | undefined>;

  insertMachine(machine: MachineRecord): Promise<void>;
  machineById(id: string): Promise<MachineRecord | undefined>;
  listMachines(workspaceId: string): Promise<MachineRecord[]>;
  updateMachineInfo(id: string, info: MachineInfo): Promise<void>;
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
  close(): Promise<void>;
}

/** A uniqueness rule was violated (e.g. a workspace name already in use). */
export class ConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConflictError";
  }
}
