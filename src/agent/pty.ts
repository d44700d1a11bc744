/** openPty: the pseudo-terminal behind the agent's interactive sessions, on libc through Deno FFI. */

import { launcher, loginShell } from "./_pty_launch.ts";
import { checkSize, libc, O_RDWR, openMaster, setCloseOnExec, setWindowSize } from "./_pty_libc.ts";
import { PtyProcess } from "./_pty_process.ts";
import type { Pty } from "./_pty_types.ts";

export type { Pty, PtyExit } from "./_pty_types.ts";

// Lives with the launch code, which shares its executable-file check; public from here.
export { loginShell };

/** What to run in a new pseudo-terminal, and how big it starts. */
export interface PtyOptions {
  /** Program and arguments; defaults to the user's login shell ({@linkcode loginShell}). */
  argv?: string[];
  /**
   * The program's complete environment. When omitted it inherits the agent's.
   * `TERM` is always set from `term`.
   */
  env?: Record<string, string>;
  /** Working directory; defaults to the agent's. */
  cwd?: string;
  /** Initial height in character cells (1 to 65535). */
  rows: number;
  /** Initial width in character cells (1 to 65535). */
  cols: number;
  /** `TERM` for the program; defaults to `xterm-256color`. */
  term?: string;
  /** How long {@linkcode Pty.close} waits after SIGHUP before SIGKILL; defaults to 1000 ms. */
  hangupGraceMs?: number;
}

const DEFAULT_HANGUP_GRACE_MS = 1_000;

/**
 * Starts `options.argv` (by default the login shell) as a session leader whose
 * controlling terminal is a new pseudo-terminal of `rows` x `cols`.
 *
 * Needs `--allow-ffi` and `--allow-run` (plus `--allow-read` of `/proc` for
 * {@linkcode Pty.close}). Linux uses `setsid(1)` to start the program, macOS
 * `/usr/bin/perl`; other systems are not supported.
 *
 * @example
 * ```ts
 * const pty = openPty({ argv: ["/bin/sh", "-c", "tty"], rows: 24, cols: 80 });
 * for await (const chunk of pty.readable) await Deno.stdout.write(chunk);
 * console.log(await pty.exited); // { code: 0 }
 * await pty.close();
 * ```
 */
export function openPty(options: PtyOptions): Pty {
  checkSize(options.rows, options.cols);
  const lib = libc();
  const argv = options.argv ?? loginShell();
  if (argv.length === 0) throw new Error("Cannot start a terminal: argv is empty");
  const launch = launcher(lib.facts);
  const fds: number[] = [];
  try {
    const master = openMaster(lib);
    fds.push(master);
    const tty = lib.ptsname(master);
    if (!tty) throw new Error(`Cannot name the pseudo-terminal: ${lib.strerror(lib.errno())}`);
    // Held until the program exits: macOS reports end-of-file on a master whose slave is not open,
    // which would end the output before the program has opened its terminal.
    const slave = lib.open(tty, O_RDWR | lib.facts.O_NOCTTY | lib.facts.O_CLOEXEC);
    if (slave < 0) throw new Error(`Cannot open "${tty}": ${lib.strerror(lib.errno())}`);
    fds.push(slave);
    const wake = new Int32Array(2);
    if (lib.pipe(wake) !== 0) throw new Error(`Cannot create a pipe: ${lib.strerror(lib.errno())}`);
    fds.push(wake[0], wake[1]);
    setCloseOnExec(lib, wake[0]);
    setCloseOnExec(lib, wake[1]);
    setWindowSize(lib, master, options.rows, options.cols);
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(launch.program, {
        args: launch.args(tty, argv),
        env: { ...options.env, TERM: options.term ?? "xterm-256color" },
        clearEnv: options.env !== undefined,
        cwd: options.cwd,
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
    } catch (error) {
      const where = options.cwd === undefined ? "" : ` in "${options.cwd}"`;
      throw new Error(`Cannot start "${argv[0]}"${where}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    return new PtyProcess(lib, child, {
      master,
      slave,
      wakeRead: wake[0],
      wakeWrite: wake[1],
      tty,
      graceMs: options.hangupGraceMs ?? DEFAULT_HANGUP_GRACE_MS,
    });
  } catch (error) {
    for (const fd of fds) lib.close(fd);
    throw error;
  }
}
