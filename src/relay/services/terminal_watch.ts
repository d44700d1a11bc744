/** TerminalWatch: the live terminals a read-only share link may watch — its owner's, on this relay — fanned out to viewers within bounds. */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  type Exit,
  OutputStream,
  type SessionOutput,
  SessionOutputSchema,
} from "../../../gen/cmdop/v1/session_pb.ts";
import { AsyncQueue } from "../../lib/async_queue.ts";

/** Viewers one terminal may have at once; more are refused (ResourceExhausted). */
export const MAX_VIEWERS_PER_TERMINAL = 16;
/**
 * Output one viewer may have waiting on the relay. A viewer never holds the terminal back
 * (its owner's credit paces it); one that reads slower than the terminal writes is ended
 * once this much waits for it, so a stalled browser costs at most this.
 */
export const VIEWER_BACKLOG_BYTES = 1024 * 1024;
/** The latest output each watchable terminal keeps, shown to a viewer when it joins. */
export const REPLAY_BYTES = 32 * 1024;

/** Whose terminals on which machine: the key a terminal is published and joined under. */
export interface WatchKey {
  workspaceId: string;
  machineId: string;
  /** The session's opener, as `ownerOf` (auth.ts) names it. */
  owner: string;
}

const keyText = (key: WatchKey) => `${key.workspaceId}\n${key.machineId}\n${key.owner}`;

/**
 * The terminal sessions of this relay node that read-only share links can watch.
 *
 * @example
 * ```ts
 * const watch = new TerminalWatch();
 * const terminal = watch.publish(key, { rows: 24, cols: 80 });
 * terminal.output(bytes); // every viewer gets it
 * const viewer = watch.join(key); // the newest terminal of that owner on that machine
 * for await (const frame of viewer.frames) send(frame);
 * ```
 */
export class TerminalWatch {
  #terminals = new Map<string, WatchedTerminal[]>();

  /** Registers a terminal session as it starts; `end()` it when the session ends. */
  publish(key: WatchKey, size: { rows: number; cols: number }): WatchedTerminal {
    const text = keyText(key);
    const terminal = new WatchedTerminal(size, () => {
      const list = (this.#terminals.get(text) ?? []).filter((t) => t !== terminal);
      if (list.length === 0) this.#terminals.delete(text);
      else this.#terminals.set(text, list);
    });
    this.#terminals.set(text, [...(this.#terminals.get(text) ?? []), terminal]);
    return terminal;
  }

  /** Joins the newest live terminal under `key`; undefined when there is none. */
  join(key: WatchKey): Viewer | undefined {
    const list = this.#terminals.get(keyText(key));
    return list?.[list.length - 1]?.join();
  }
}

/** One watchable terminal session: what it writes goes to each of its viewers. */
export class WatchedTerminal {
  #viewers = new Set<Viewer>();
  #replay: Uint8Array[] = [];
  #replayBytes = 0;
  #size: { rows: number; cols: number };
  #unregister: () => void;
  #ended = false;

  constructor(size: { rows: number; cols: number }, unregister: () => void) {
    this.#size = { ...size };
    this.#unregister = unregister;
  }

  get viewers(): number {
    return this.#viewers.size;
  }

  join(): Viewer {
    if (this.#viewers.size >= MAX_VIEWERS_PER_TERMINAL) {
      throw new ConnectError(
        `this terminal already has ${MAX_VIEWERS_PER_TERMINAL} viewers, the most it takes`,
        Code.ResourceExhausted,
      );
    }
    const viewer = new Viewer(() => this.#viewers.delete(viewer));
    viewer.push(resizeFrame(this.#size.rows, this.#size.cols));
    if (this.#replayBytes > 0) viewer.push(outputFrame(concat(this.#replay, this.#replayBytes)));
    this.#viewers.add(viewer);
    return viewer;
  }

  output(data: Uint8Array): void {
    if (this.#ended || data.length === 0) return;
    // A copy: the frame's buffer may be reused once the owner's client has it.
    const copy = data.slice();
    const kept = copy.length > REPLAY_BYTES ? copy.subarray(copy.length - REPLAY_BYTES) : copy;
    this.#replay.push(kept);
    this.#replayBytes += kept.length;
    while (this.#replayBytes - this.#replay[0].length >= REPLAY_BYTES) {
      this.#replayBytes -= this.#replay.shift()!.length;
    }
    if (this.#viewers.size === 0) return;
    const frame = outputFrame(copy);
    for (const viewer of this.#viewers) viewer.push(frame);
  }

  resize(rows: number, cols: number): void {
    if (this.#ended) return;
    this.#size = { rows, cols };
    for (const viewer of this.#viewers) viewer.push(resizeFrame(rows, cols));
  }

  /** The session ended: with its exit when the command exited, else the viewers are told it was lost. */
  end(exit?: Exit): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#unregister();
    for (const viewer of [...this.#viewers]) {
      if (exit) {
        viewer.push(create(SessionOutputSchema, { msg: { case: "exit", value: exit } }));
        viewer.close();
      } else {
        viewer.fail(
          new ConnectError("the terminal being watched was disconnected", Code.Aborted),
        );
      }
    }
    this.#viewers.clear();
    this.#replay = [];
  }
}

/** One viewer's frames: a bounded queue (see {@linkcode VIEWER_BACKLOG_BYTES}). */
export class Viewer {
  #queue = new AsyncQueue<SessionOutput>();
  #bytes = 0;
  #leave: () => void;

  constructor(leave: () => void) {
    this.#leave = leave;
  }

  /** The terminal's frames for this viewer, until it exits, is lost or the viewer falls behind. */
  readonly frames: AsyncIterableIterator<SessionOutput> = {
    next: async () => {
      const next = await this.#queue.next();
      if (!next.done) this.#bytes -= bytesOf(next.value);
      return next;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };

  push(frame: SessionOutput): void {
    const bytes = bytesOf(frame);
    if (this.#bytes + bytes > VIEWER_BACKLOG_BYTES) {
      this.fail(
        new ConnectError(
          `this viewer fell ${VIEWER_BACKLOG_BYTES / 1024} KiB behind the terminal it watches ` +
            "(a slow connection?); open the link again",
          Code.ResourceExhausted,
        ),
      );
      return;
    }
    if (this.#queue.push(frame)) this.#bytes += bytes;
  }

  close(): void {
    this.#queue.close();
    this.#leave();
  }

  fail(error: unknown): void {
    this.#queue.fail(error);
    this.#bytes = 0;
    this.#leave();
  }

  /** The viewer went away. */
  leave(): void {
    this.fail(new ConnectError("the viewer left", Code.Canceled));
  }
}

function bytesOf(frame: SessionOutput): number {
  return 16 + (frame.msg.case === "output" ? frame.msg.value.data.length : 0);
}

function outputFrame(data: Uint8Array): SessionOutput {
  return create(SessionOutputSchema, {
    msg: { case: "output", value: { stream: OutputStream.STDOUT, data } },
  });
}

function resizeFrame(rows: number, cols: number): SessionOutput {
  return create(SessionOutputSchema, { msg: { case: "resize", value: { rows, cols } } });
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}
