/** The relay and agent processes a test file started, by name, so that a failure can show their last log lines. */

/** One started relay or agent, as failures describe it. */
export interface LoggedProcess {
  /** e.g. `relay http://127.0.0.1:40123` or `agent web-1`. */
  name: string;
  pid: number;
  stderr(): string;
  /** The exit code once the process ended, else undefined. */
  exitCode(): number | undefined;
}

/** Every relay and agent started since the last {@linkcode forgetLoggedProcesses}. */
const processes: LoggedProcess[] = [];

/**
 * Remembers a process so that {@linkcode logTails} can show it.
 *
 * @example
 * ```ts
 * rememberProcess({ name: "agent web-1", pid, stderr: () => text, exitCode: () => code });
 * ```
 */
export function rememberProcess(process: LoggedProcess): void {
  processes.push(process);
}

/**
 * Forgets every remembered process (a test file's `after` does it through `killAll`).
 *
 * @example
 * ```ts
 * forgetLoggedProcesses();
 * ```
 */
export function forgetLoggedProcesses(): void {
  processes.length = 0;
}

/**
 * The last `lines` lines of every remembered relay's and agent's stderr, each
 * under a heading with its name, pid and whether it still runs; "" when none.
 *
 * @example
 * ```ts
 * throw new Error(`timed out waiting for the agent${logTails()}`);
 * ```
 */
export function logTails(lines = 15): string {
  if (processes.length === 0) return "";
  const parts = processes.map((p) => {
    const code = p.exitCode();
    const state = code === undefined ? "running" : `exited with ${code}`;
    const tail = p.stderr().trimEnd().split("\n").slice(-lines).map((l) => `  | ${l}`);
    return `--- ${p.name} (pid ${p.pid}, ${state}), last ${lines} lines of stderr:\n` +
      (tail.join("\n") || "  | (nothing)");
  });
  return `\n${parts.join("\n")}`;
}
