/** Recordings: how the relay records the sessions of workspaces that opted in, bounds them, and forgets them after the retention. */
import { type OpenSession, SessionKind } from "../../../gen/cmdop/v1/session_pb.ts";
import type { Logger } from "../../lib/log.ts";
import { actorOf } from "../audit/audit_log.ts";
import type { ClientPrincipal } from "../principal.ts";
import type { MachineRecord } from "../store/store.ts";
import { CastRecorder, type QueueBudget, queueBudget } from "./cast_recorder.ts";
import type {
  RecordedKind,
  RecordingQuery,
  RecordingRow,
  RecordingSink,
  RecordingStore,
} from "./recording_store.ts";

/** The relay's recording limits (`cmdop relay serve` flags). */
export interface RecordingLimits {
  /** `--recording-retention`: recordings older than this are deleted; 0 keeps them. */
  retentionMs: number;
  /** `--recording-max-bytes`: output a terminal session's recording keeps. */
  maxBytes: number;
  /** `--recording-exec-output`: output an exec session's recording keeps. */
  execOutputBytes: number;
  /** Output one recording may have waiting for its writer before it leaves some out. */
  sessionQueueBytes: number;
  /** The same, every recording of the relay together. */
  relayQueueBytes: number;
}

/** The defaults, as `relay serve --help` states them. */
export const DEFAULT_RECORDING_LIMITS: RecordingLimits = {
  retentionMs: 30 * 24 * 3_600_000,
  maxBytes: 64 * 1024 * 1024,
  execOutputBytes: 1024 * 1024,
  sessionQueueBytes: 4 * 1024 * 1024,
  relayQueueBytes: 64 * 1024 * 1024,
};

/** How often the relay deletes what is past the retention (and once at start). */
export const PRUNE_INTERVAL_MS = 10 * 60_000;

/** What the session's splice feeds; every call only queues. */
export interface SessionRecording {
  output(stream: number, data: Uint8Array): void;
  resize(cols: number, rows: number): void;
  exit(code: number): void;
  /** Ends the recording in the background: the rest is written, then its index row completed. */
  end(): void;
}

/** Options of {@linkcode Recordings}. */
export interface RecordingsOptions {
  store: RecordingStore;
  limits: RecordingLimits;
  /** The relay's clock (the test clock in tests): start times and retention. */
  now: () => number;
  log: Logger;
  /** Waits before small writes, to write fewer, larger pieces (PostgreSQL chunk rows). */
  coalesceMs?: number;
}

/**
 * The relay's recordings: which sessions are recorded, their writers under one budget, the
 * listing and reading the RecordingService serves, and the pruning.
 *
 * @example
 * ```ts
 * const on = await deps.recordings.enabledFor(machine.workspaceId, open.kind);
 * const recording = on ? deps.recordings.begin(principal, machine, open, sessionId) : undefined;
 * ```
 */
export class Recordings {
  #options: RecordingsOptions;
  #budget: QueueBudget;
  #running = new Set<Promise<void>>();

  constructor(options: RecordingsOptions) {
    this.#options = options;
    this.#budget = queueBudget(options.limits.relayQueueBytes);
  }

  get limits(): RecordingLimits {
    return this.#options.limits;
  }

  /** Whether a session of `kind` on a machine of the workspace is recorded; false when the store cannot say. */
  async enabledFor(workspaceId: string, kind: SessionKind): Promise<boolean> {
    if (kind !== SessionKind.PTY && kind !== SessionKind.EXEC) return false;
    try {
      return await this.#options.store.enabled(workspaceId);
    } catch (error) {
      this.#options.log(`recording: cannot read the setting of workspace ${workspaceId}`, {
        level: "error",
        error: error instanceof Error ? error.message : String(error),
      });
      return false;
    }
  }

  /**
   * Starts recording a session; returns at once. The index row and the file are made in the
   * background, the events queue meanwhile.
   */
  begin(
    principal: ClientPrincipal,
    machine: MachineRecord,
    open: OpenSession,
    sessionId: string,
  ): SessionRecording {
    const { store, limits, log, now } = this.#options;
    const kind: RecordedKind = open.kind === SessionKind.EXEC ? "exec" : "pty";
    const actor = actorOf(principal);
    const startedMs = now();
    const width = open.cols || 80;
    const height = open.rows || 24;
    const row: RecordingRow = {
      id: sessionId,
      workspaceId: machine.workspaceId,
      machineId: machine.id,
      machineName: machine.hostname,
      actorKind: actor.kind,
      actorId: actor.id,
      kind,
      argv: open.argv,
      width,
      height,
      startedMs,
      endedMs: null,
      bytes: 0,
      outputBytes: 0,
      truncated: false,
      gapBytes: 0,
      exitCode: null,
    };
    const header: Record<string, unknown> = {
      version: 2,
      width,
      height,
      timestamp: Math.floor(startedMs / 1000),
      title: `${machine.hostname}: ${kind === "exec" ? shellLine(open.argv) : "terminal"}`,
    };
    // A terminal's TERM, as asciinema records it; an exec session has no terminal.
    if (kind === "pty") header.env = { TERM: open.term || "xterm-256color" };
    if (open.argv.length > 0) header.command = shellLine(open.argv);
    const sink: Promise<RecordingSink> = store.begin(row);
    sink.catch(() => {}); // reported through the recorder's first write
    let complained = false;
    const recorder = new CastRecorder({
      header,
      capBytes: kind === "exec" ? limits.execOutputBytes : limits.maxBytes,
      queueBytes: limits.sessionQueueBytes,
      budget: this.#budget,
      coalesceMs: this.#options.coalesceMs,
      write: async (bytes) => await (await sink).write(bytes),
      idle: async () => await (await sink).idle(),
      failed: (error) => {
        if (complained) return;
        complained = true;
        log(`recording: session ${sessionId} is no longer recorded`, {
          level: "error",
          error: error instanceof Error ? error.message : String(error),
        });
      },
    });
    return {
      output: (stream, data) => recorder.output(stream, data),
      resize: (cols, rows) => recorder.resize(cols, rows),
      exit: (code) => recorder.exit(code),
      end: () => {
        const ending = (async () => {
          const result = await recorder.end();
          // A row that could not be made was reported by the recorder's first write.
          if (!(await sink.then(() => true, () => false))) return;
          await store.finish(sessionId, { ...result, endedMs: now() });
        })().catch((error) => {
          log(`recording: cannot complete the recording of session ${sessionId}`, {
            level: "error",
            error: error instanceof Error ? error.message : String(error),
          });
        }).finally(() => this.#running.delete(ending));
        this.#running.add(ending);
      },
    };
  }

  /** The caller's workspace's recordings (every workspace's for the operator), newest first, within the retention. */
  list(query: RecordingQuery): Promise<RecordingRow[]> {
    return this.#options.store.list({
      ...query,
      sinceMs: Math.max(query.sinceMs, this.#oldestKept()),
    });
  }

  /** A recording of the workspace, unless it is past the retention (and about to be pruned). */
  async get(id: string, workspaceId: string | undefined): Promise<RecordingRow | undefined> {
    const row = await this.#options.store.get(id, workspaceId);
    return row && row.startedMs >= this.#oldestKept() ? row : undefined;
  }

  read(row: RecordingRow): AsyncIterable<Uint8Array> {
    return this.#options.store.read(row);
  }

  /** Deletes what is past the retention; logs and goes on when the store fails. */
  async prune(): Promise<void> {
    if (this.#options.limits.retentionMs <= 0) return;
    try {
      const count = await this.#options.store.prune(this.#oldestKept());
      if (count > 0) this.#options.log(`recording: ${count} recordings past the retention deleted`);
    } catch (error) {
      this.#options.log("recording: cannot delete recordings past the retention", {
        level: "error",
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }

  /** Prunes now and every {@linkcode PRUNE_INTERVAL_MS}; returns the function that stops it. */
  startPruning(): () => void {
    void this.prune();
    const timer = setInterval(() => void this.prune(), PRUNE_INTERVAL_MS);
    Deno.unrefTimer(timer);
    return () => clearInterval(timer);
  }

  /** Resolves once every recording that ended has been written and completed. */
  async flush(): Promise<void> {
    while (this.#running.size > 0) await Promise.all(this.#running);
  }

  #oldestKept(): number {
    const { retentionMs } = this.#options.limits;
    return retentionMs > 0 ? this.#options.now() - retentionMs : 0;
  }
}

/** The argv as one shell line, quoted where needed (for the asciicast header's `command`). */
export function shellLine(argv: string[]): string {
  return argv.map((word) =>
    /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`
  )
    .join(" ");
}
