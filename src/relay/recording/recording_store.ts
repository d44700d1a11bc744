/** Session recordings: what the index holds of one, and the store that keeps the index, the bytes and the workspaces' opt-in. */

/** The session kinds a workspace's recording covers. */
export type RecordedKind = "pty" | "exec";

/** One recorded session, as its index row holds it. */
export interface RecordingRow {
  /** The session's id. */
  id: string;
  workspaceId: string;
  machineId: string;
  /** The machine's hostname when the session started. */
  machineName: string;
  /** Who opened it, as the audit log names them (never a secret). */
  actorKind: string;
  actorId: string;
  kind: RecordedKind;
  /** exec: the command line; pty: the command, empty for the login shell. */
  argv: string[];
  width: number;
  height: number;
  startedMs: number;
  /** `null` while it runs, or when its relay stopped before it ended. */
  endedMs: number | null;
  /** Size of the asciicast file so far (set at the end). */
  bytes: number;
  /** Output the session produced, recorded or not. */
  outputBytes: number;
  /** The recording stopped at its cap. */
  truncated: boolean;
  /** Output left out because the writer fell behind. */
  gapBytes: number;
  exitCode: number | null;
}

/** What the end of a recording adds to its row. */
export type RecordingResult = Pick<
  RecordingRow,
  "endedMs" | "bytes" | "outputBytes" | "truncated" | "gapBytes" | "exitCode"
>;

/** Which recordings {@linkcode RecordingStore.list} returns, newest first. */
export interface RecordingQuery {
  /** Undefined only for the operator, who may read every workspace. */
  workspaceId?: string;
  /** Sessions started at or after this time. */
  sinceMs: number;
  /** A machine id or a hostname it had (ignoring case). */
  machine?: string;
  /** Recordings strictly before this one (start time, then id): where the previous page ended. */
  before?: { startedMs: number; id: string };
  limit: number;
}

/** Where one recording's bytes go while its session runs. */
export interface RecordingSink {
  /** Appends bytes of the asciicast file, in order; one call at a time. */
  write(bytes: Uint8Array): Promise<void>;
  /** Nothing more to write for now: lets go of what writing holds open (a file). */
  idle(): Promise<void>;
}

/**
 * The recordings' index (SQLite or PostgreSQL, beside the relay's state) and their bytes
 * (files in the data folder, or chunks in PostgreSQL).
 */
export interface RecordingStore {
  /** Whether the workspace records its sessions (off by default). */
  enabled(workspaceId: string): Promise<boolean>;
  /** Turns recording on or off for the workspace; false when there is no such workspace. */
  setEnabled(workspaceId: string, on: boolean): Promise<boolean>;
  /** Writes the index row of a recording that starts, and returns where its bytes go. */
  begin(row: RecordingRow): Promise<RecordingSink>;
  /** Completes the row once every byte is written. */
  finish(id: string, result: RecordingResult): Promise<void>;
  list(query: RecordingQuery): Promise<RecordingRow[]>;
  /** The row, only when it belongs to `workspaceId` (undefined: any workspace, for the operator). */
  get(id: string, workspaceId: string | undefined): Promise<RecordingRow | undefined>;
  /** The asciicast file as written so far, in chunks of at most 256 KiB, never whole in memory. */
  read(row: RecordingRow): AsyncIterable<Uint8Array>;
  /** Deletes recordings started before `beforeMs`, index and bytes; returns how many. */
  prune(beforeMs: number): Promise<number>;
}

/** Largest page a list returns. */
export const MAX_PAGE = 1000;

/** Largest chunk `read` yields (and a PostgreSQL chunk row holds). */
export const READ_CHUNK_BYTES = 256 * 1024;

/**
 * One database row (column names as in both schemas) as a {@linkcode RecordingRow}.
 *
 * @example
 * ```ts
 * const rows = result.map(toRecordingRow);
 * ```
 */
export function toRecordingRow(row: Record<string, unknown>): RecordingRow {
  let argv: string[] = [];
  try {
    const parsed = JSON.parse(String(row.argv));
    if (Array.isArray(parsed)) argv = parsed.map(String);
  } catch {
    // Only ever written as JSON; an unreadable one is listed empty rather than failing a listing.
  }
  const orNull = (value: unknown) => value === null || value === undefined ? null : Number(value);
  return {
    id: String(row.id),
    workspaceId: String(row.workspace_id),
    machineId: String(row.machine_id),
    machineName: String(row.machine_name),
    actorKind: String(row.actor_kind),
    actorId: String(row.actor_id),
    kind: String(row.kind) === "exec" ? "exec" : "pty",
    argv,
    width: Number(row.width),
    height: Number(row.height),
    startedMs: Number(row.started_ms),
    endedMs: orNull(row.ended_ms),
    bytes: Number(row.bytes),
    outputBytes: Number(row.output_bytes),
    truncated: row.truncated === true || Number(row.truncated) === 1,
    gapBytes: Number(row.gap_bytes),
    exitCode: orNull(row.exit_code),
  };
}

/** A store that records nothing: for relays started without one (in-memory tests). */
export const NO_RECORDING_STORE: RecordingStore = {
  enabled: () => Promise.resolve(false),
  setEnabled: () => Promise.resolve(false),
  begin: () => Promise.reject(new Error("this relay keeps no recordings")),
  finish: () => Promise.resolve(),
  list: () => Promise.resolve([]),
  get: () => Promise.resolve(undefined),
  read: async function* () {},
  prune: () => Promise.resolve(0),
};
