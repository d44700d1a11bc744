/** CliContext: everything a command may touch of the outside world, injected so tests can fake it. */

/** A byte sink such as stdout or stderr. */
export interface OutputStream {
  write(data: Uint8Array | string): Promise<void>;
  isTerminal(): boolean;
  /** Terminal size, when it is a terminal. */
  size(): { rows: number; cols: number } | undefined;
}

/** The process's standard input. */
export interface InputStream {
  readable: ReadableStream<Uint8Array>;
  isTerminal(): boolean;
  setRaw(raw: boolean): void;
}

/** What a command gets instead of `Deno.*` globals. */
export interface CliContext {
  stdin: InputStream;
  stdout: OutputStream;
  stderr: OutputStream;
  /** Reads an environment variable. */
  env(name: string): string | undefined;
  /**
   * The config folder (`CMDOP_HOME`, else `~/.cmdop`), resolved from `env` once, on first use;
   * throws a `ConfigError` when neither variable is set.
   */
  home(): string;
  /** Milliseconds since the epoch. */
  now(): number;
  /** Cancelled on SIGINT/SIGTERM outside raw mode. */
  signal: AbortSignal;
  /**
   * Calls `listener` whenever the terminal is resized (SIGWINCH); returns what
   * stops it. Absent where resizes cannot be observed.
   */
  onTerminalResize?(listener: () => void): () => void;
}
