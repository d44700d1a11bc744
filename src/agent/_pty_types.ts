/** The shape of a program on a pseudo-terminal, shared by `pty.ts` and the process behind it. */

/** How the program in the terminal ended. */
export interface PtyExit {
  /** Exit status; 128+N when killed by signal N. */
  code: number;
  /** Name of the signal that killed it, such as `SIGHUP`. */
  signal?: string;
}

/** A program running in its own session with a pseudo-terminal as its controlling terminal. */
export interface Pty {
  /** Process id of the program, which is also its session and process group id. */
  readonly pid: number;
  /**
   * Terminal output, in chunks of up to 64 KiB. Ends without error once the
   * program has exited and its output is drained, or after {@linkcode Pty.close}.
   * Reading pauses while 4 chunks wait unread, which in turn blocks the program's
   * writes. Cancelling it stops reading but leaves the program running.
   */
  readonly readable: ReadableStream<Uint8Array>;
  /**
   * Writes all of `data` as keyboard input, waiting while the terminal's input
   * buffer is full. Writes are applied in call order. Rejects with
   * `Deno.errors.BrokenPipe` once the terminal is closed.
   */
  write(data: Uint8Array): Promise<void>;
  /** Sets the window size; the foreground program gets SIGWINCH. Does nothing once closed. */
  resize(rows: number, cols: number): void;
  /**
   * Hangs up: closes the terminal, sends SIGHUP (and SIGCONT) to every process of
   * the session, then SIGKILL to any still there after the grace period. Resolves
   * once they are gone and the program's exit is known. When the program already
   * exited on its own, background jobs it left are kept (as after `exit` over SSH),
   * and only the terminal is released. Idempotent.
   */
  close(): Promise<void>;
  /** Settles when the program exits. */
  readonly exited: Promise<PtyExit>;
}
