/** PostgresRecordingStore: a cluster's recordings, index and bytes both in PostgreSQL, so any node replays what any node recorded. */
import { Buffer } from "node:buffer";
import type { Sql } from "postgres";
import {
  MAX_PAGE,
  READ_CHUNK_BYTES,
  type RecordingQuery,
  type RecordingResult,
  type RecordingRow,
  type RecordingSink,
  type RecordingStore,
  toRecordingRow,
} from "./recording_store.ts";

/** Chunk rows read per query while a recording streams out. */
const CHUNKS_PER_QUERY = 4;

/**
 * The `recordings` index and its `recording_chunks` (bytea, in order, at most
 * {@linkcode READ_CHUNK_BYTES} each) on the pool a `PostgresStore` opened. In the database
 * rather than on each node's disk: a node that is replaced or lost takes no recording with it,
 * and a replay needs no route to the node that recorded.
 *
 * @example
 * ```ts
 * const recordings = new PostgresRecordingStore((await openPostgresStore(url)).sql);
 * ```
 */
export class PostgresRecordingStore implements RecordingStore {
  #sql: Sql;

  constructor(sql: Sql) {
    this.#sql = sql;
  }

  async enabled(workspaceId: string): Promise<boolean> {
    const [row] = await this.#sql`SELECT session_recording FROM workspaces
      WHERE id = ${workspaceId}`;
    return row?.session_recording === true;
  }

  async setEnabled(workspaceId: string, on: boolean): Promise<boolean> {
    const result = await this.#sql`UPDATE workspaces SET session_recording = ${on}
      WHERE id = ${workspaceId}`;
    return result.count > 0;
  }

  async begin(row: RecordingRow): Promise<RecordingSink> {
    await this.#sql`INSERT INTO recordings (id, workspace_id, machine_id, machine_name,
      actor_kind, actor_id, kind, argv, width, height, started_ms) VALUES (${row.id},
      ${row.workspaceId}, ${row.machineId}, ${row.machineName}, ${row.actorKind},
      ${row.actorId}, ${row.kind}, ${JSON.stringify(row.argv)}, ${row.width}, ${row.height},
      ${row.startedMs})`;
    return new ChunkSink(this.#sql, row.id);
  }

  async finish(id: string, r: RecordingResult): Promise<void> {
    await this.#sql`UPDATE recordings SET ended_ms = ${r.endedMs}, bytes = ${r.bytes},
      output_bytes = ${r.outputBytes}, truncated = ${r.truncated}, gap_bytes = ${r.gapBytes},
      exit_code = ${r.exitCode} WHERE id = ${id}`;
  }

  async list(q: RecordingQuery): Promise<RecordingRow[]> {
    const sql = this.#sql;
    const workspace = q.workspaceId === undefined
      ? sql``
      : sql`AND workspace_id = ${q.workspaceId}`;
    const machine = q.machine
      ? sql`AND (machine_id = ${q.machine} OR lower(machine_name) = lower(${q.machine}))`
      : sql``;
    const before = q.before
      ? sql`AND (started_ms < ${q.before.startedMs}
          OR (started_ms = ${q.before.startedMs} AND id < ${q.before.id}))`
      : sql``;
    const rows = await sql`SELECT * FROM recordings WHERE started_ms >= ${q.sinceMs}
      ${workspace} ${machine} ${before}
      ORDER BY started_ms DESC, id DESC LIMIT ${Math.min(Math.max(q.limit, 1), MAX_PAGE)}`;
    return rows.map(toRecordingRow);
  }

  async get(id: string, workspaceId: string | undefined): Promise<RecordingRow | undefined> {
    const [row] = await this.#sql`SELECT * FROM recordings WHERE id = ${id}`;
    if (!row || (workspaceId !== undefined && row.workspace_id !== workspaceId)) return undefined;
    return toRecordingRow(row);
  }

  async *read(row: RecordingRow): AsyncIterable<Uint8Array> {
    let next = 0;
    for (;;) {
      const chunks = await this.#sql`SELECT seq, data FROM recording_chunks
        WHERE recording_id = ${row.id} AND seq >= ${next} ORDER BY seq LIMIT ${CHUNKS_PER_QUERY}`;
      for (const chunk of chunks) {
        yield new Uint8Array(chunk.data as Uint8Array);
        next = Number(chunk.seq) + 1;
      }
      if (chunks.length < CHUNKS_PER_QUERY) return;
    }
  }

  async prune(beforeMs: number): Promise<number> {
    // Chunks go with their row (ON DELETE CASCADE); every node may run this at once.
    const result = await this.#sql`DELETE FROM recordings WHERE started_ms < ${beforeMs}`;
    return result.count;
  }
}

/** Appends chunk rows of at most {@linkcode READ_CHUNK_BYTES}, numbered in order. */
class ChunkSink implements RecordingSink {
  #sql: Sql;
  #id: string;
  #seq = 0;

  constructor(sql: Sql, id: string) {
    this.#sql = sql;
    this.#id = id;
  }

  async write(bytes: Uint8Array): Promise<void> {
    for (let at = 0; at < bytes.length; at += READ_CHUNK_BYTES) {
      const part = bytes.subarray(at, at + READ_CHUNK_BYTES);
      // postgres.js sends a Buffer as bytea (a plain Uint8Array would go as text).
      const data = Buffer.from(part.buffer, part.byteOffset, part.byteLength);
      await this.#sql`INSERT INTO recording_chunks (recording_id, seq, data)
        VALUES (${this.#id}, ${this.#seq}, ${data})`;
      this.#seq++;
    }
  }

  idle(): Promise<void> {
    return Promise.resolve();
  }
}
