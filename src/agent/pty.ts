/** openPty: the pseudo-terminal behind the agent's interactive sessions, on libc through Deno FFI. */

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

const READ_CHUNK_BYTES = 64 * 1024;
const QUEUED_CHUNKS = 4;
const DEFAULT_HANGUP_GRACE_MS = 1_000;
/** After the program exits, how long to wait for end-of-file before a background job holding the terminal is ignored. */
const EXIT_DRAIN_MS = 100;
/** Output still buffered when the terminal is released is kept up to this; a background job can produce it endlessly. */
const MAX_TAIL_BYTES = 1024 * 1024;
const SESSION_POLL_MS = 25;
/** After SIGKILL, how long close() waits for processes stuck in the kernel. */
const KILL_WAIT_MS = 5_000;

const O_RDWR = 2;
const F_SETFD = 2, F_GETFL = 3, F_SETFL = 4, FD_CLOEXEC = 1;
const POLLIN = 1, POLLOUT = 4, POLLNVAL = 0x20, POLLFD_BYTES = 8;
const NVAL_RETRY_MS = 10;
const EINTR = 4, EIO = 5;

interface OsFacts {
  libraries: string[];
  errnoSymbol: string;
  nfds: "u64" | "u32";
  O_NOCTTY: number;
  O_CLOEXEC: number;
  O_NONBLOCK: number;
  /** Extra flags posix_openpt accepts: Linux takes all of them, so no concurrent spawn can inherit the fd. */
  openptFlags: number;
  TIOCSWINSZ: number;
  TIOCSCTTY: number;
  EAGAIN: number;
  /** Apple arm64 passes variadic arguments (of ioctl, fcntl) on the stack. */
  stackVarargs: boolean;
}

function osFacts(): OsFacts {
  switch (Deno.build.os) {
    case "linux":
      return {
        libraries: ["libc.so.6", "libc.so"],
        errnoSymbol: "__errno_location",
        nfds: "u64",
        O_NOCTTY: 0o400,
        O_CLOEXEC: 0o2000000,
        O_NONBLOCK: 0o4000,
        openptFlags: 0o4000 | 0o2000000,
        TIOCSWINSZ: 0x5414,
        TIOCSCTTY: 0x540e,
        EAGAIN: 11,
        stackVarargs: false,
      };
    case "darwin":
      return {
        libraries: ["/usr/lib/libSystem.B.dylib"],
        errnoSymbol: "__error",
        nfds: "u32",
        O_NOCTTY: 0x20000,
        O_CLOEXEC: 0x1000000,
        O_NONBLOCK: 4,
        openptFlags: 0,
        TIOCSWINSZ: 0x80087467,
        TIOCSCTTY: 0x20007461,
        EAGAIN: 35,
        stackVarargs: Deno.build.arch === "aarch64",
      };
    default:
      throw new Error(`Terminal sessions are not supported on "${Deno.build.os}"`);
  }
}

/** The libc calls this module makes, typed; `read`, `write` and `fcntl` run on the JavaScript thread and never block. */
interface Libc {
  facts: OsFacts;
  openpt(flags: number): number;
  grantpt(fd: number): number;
  unlockpt(fd: number): number;
  ptsname(fd: number): string | undefined;
  open(path: string, flags: number): number;
  ioctl(fd: number, request: number, arg: Uint16Array): number;
  fcntl(fd: number, cmd: number, arg?: number): number;
  read(fd: number, buffer: Uint8Array): number;
  write(fd: number, buffer: Uint8Array): number;
  close(fd: number): number;
  pipe(fds: Int32Array): number;
  /** Runs on a worker thread: it may wait indefinitely. */
  poll(fds: Uint8Array, count: number, timeoutMs: number): Promise<number>;
  errno(): number;
  strerror(errno: number): string;
}

let loadedLibc: Libc | undefined;

// Loaded on first use: importing this module needs no FFI permission.
function libc(): Libc {
  if (loadedLibc) return loadedLibc;
  const facts = osFacts();
  // Six dummy register arguments push the real variadic argument onto the stack where Apple arm64 expects it.
  const pad: Deno.NativeType[] = facts.stackVarargs ? Array(6).fill("i64") : [];
  const padding: number[] = pad.map(() => 0);
  const symbols = {
    posix_openpt: { parameters: ["i32"], result: "i32" },
    grantpt: { parameters: ["i32"], result: "i32" },
    unlockpt: { parameters: ["i32"], result: "i32" },
    ptsname: { parameters: ["i32"], result: "pointer" },
    // Variadic too, but the mode argument is only read with O_CREAT.
    open: { parameters: ["buffer", "i32"], result: "i32" },
    ioctl: { parameters: ["i32", "u64", ...pad, "buffer"], result: "i32" },
    fcntl: { parameters: ["i32", "i32", ...pad, "i64"], result: "i32" },
    read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
    write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
    close: { parameters: ["i32"], result: "i32" },
    pipe: { parameters: ["buffer"], result: "i32" },
    poll: { parameters: ["buffer", facts.nfds, "i32"], result: "i32", nonblocking: true },
    errno: { name: facts.errnoSymbol, parameters: [], result: "pointer" },
    strerror: { parameters: ["i32"], result: "pointer" },
  } satisfies Deno.ForeignLibraryInterface;
  let library: Deno.DynamicLibrary<typeof symbols> | undefined;
  const failures: string[] = [];
  for (const path of facts.libraries) {
    try {
      library = Deno.dlopen(path, symbols);
      break;
    } catch (error) {
      failures.push(`"${path}": ${(error as Error).message}`);
    }
  }
  if (!library) throw new Error(`Cannot load the C library: ${failures.join("; ")}`);
  // The padded declarations make the generated call signatures too loose to be useful; the facade types them.
  const s = library.symbols as unknown as Record<string, (...args: unknown[]) => unknown>;
  const cString = (pointer: unknown) =>
    pointer ? Deno.UnsafePointerView.getCString(pointer as Deno.PointerObject) : undefined;
  loadedLibc = {
    facts,
    openpt: (flags) => s.posix_openpt(flags) as number,
    grantpt: (fd) => s.grantpt(fd) as number,
    unlockpt: (fd) => s.unlockpt(fd) as number,
    ptsname: (fd) => cString(s.ptsname(fd)),
    open: (path, flags) => s.open(new TextEncoder().encode(path + "\0"), flags) as number,
    ioctl: (fd, request, arg) => s.ioctl(fd, request, ...padding, arg) as number,
    fcntl: (fd, cmd, arg = 0) => s.fcntl(fd, cmd, ...padding, arg) as number,
    read: (fd, buffer) => Number(s.read(fd, buffer, buffer.length)),
    write: (fd, buffer) => Number(s.write(fd, buffer, buffer.length)),
    close: (fd) => s.close(fd) as number,
    pipe: (fds) => s.pipe(fds) as number,
    poll: (fds, count, timeoutMs) => s.poll(fds, count, timeoutMs) as Promise<number>,
    errno: () => new Deno.UnsafePointerView(s.errno() as Deno.PointerObject).getInt32(),
    strerror: (errno) => cString(s.strerror(errno)) ?? `errno ${errno}`,
  };
  return loadedLibc;
}

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

/**
 * The current user's login shell as argv: `SHELL`, else the `/etc/passwd`
 * entry of the current uid, else `/bin/sh`; each only if it is an executable
 * file. `-l` makes it a login shell (bash, zsh, fish, dash and ksh accept it).
 *
 * @example
 * ```ts
 * loginShell({ SHELL: "/bin/bash" }); // ["/bin/bash", "-l"]
 * ```
 */
export function loginShell(
  env: Record<string, string | undefined> = Deno.env.toObject(),
  passwdPath = "/etc/passwd",
): string[] {
  for (const shell of [env.SHELL, passwdShell(passwdPath)]) {
    if (shell && isExecutableFile(shell)) return [shell, "-l"];
  }
  return ["/bin/sh", "-l"];
}

function passwdShell(passwdPath: string): string | undefined {
  const uid = Deno.uid();
  if (uid === null) return undefined;
  let passwd: string;
  try {
    passwd = Deno.readTextFileSync(passwdPath);
  } catch {
    return undefined;
  }
  for (const line of passwd.split("\n")) {
    const fields = line.split(":");
    if (fields.length >= 7 && Number(fields[2]) === uid && fields[2] !== "") {
      return fields[6].trim();
    }
  }
  return undefined;
}

function isExecutableFile(path: string): boolean {
  if (!path.startsWith("/")) return false;
  try {
    const info = Deno.statSync(path);
    return info.isFile && ((info.mode ?? 0) & 0o111) !== 0;
  } catch {
    return false;
  }
}

function checkSize(rows: number, cols: number): void {
  const valid = (n: number) => Number.isInteger(n) && n >= 1 && n <= 65535;
  if (!valid(rows) || !valid(cols)) {
    throw new RangeError(
      `Terminal size must be whole numbers from 1 to 65535, got rows "${rows}" and cols "${cols}"`,
    );
  }
}

function openMaster(lib: Libc): number {
  const { O_NOCTTY, O_NONBLOCK, openptFlags } = lib.facts;
  // O_NOCTTY: a daemonised agent has no controlling terminal and must not acquire this one.
  const fd = lib.openpt(O_RDWR | O_NOCTTY | openptFlags);
  if (fd < 0) throw new Error(`Cannot open a pseudo-terminal: ${lib.strerror(lib.errno())}`);
  try {
    setCloseOnExec(lib, fd);
    lib.fcntl(fd, F_SETFL, lib.fcntl(fd, F_GETFL) | O_NONBLOCK);
    // Reads and writes run on the JavaScript thread: on a blocking fd they would freeze the agent.
    if ((lib.fcntl(fd, F_GETFL) & O_NONBLOCK) === 0) {
      throw new Error(`Cannot make the pseudo-terminal non-blocking: ${lib.strerror(lib.errno())}`);
    }
    if (lib.grantpt(fd) !== 0 || lib.unlockpt(fd) !== 0) {
      throw new Error(`Cannot unlock the pseudo-terminal: ${lib.strerror(lib.errno())}`);
    }
    return fd;
  } catch (error) {
    lib.close(fd);
    throw error;
  }
}

function setCloseOnExec(lib: Libc, fd: number): void {
  // Otherwise every program the agent starts would hold other sessions' terminals open.
  if (lib.fcntl(fd, F_SETFD, FD_CLOEXEC) !== 0) {
    throw new Error(`Cannot set close-on-exec: ${lib.strerror(lib.errno())}`);
  }
}

function setWindowSize(lib: Libc, fd: number, rows: number, cols: number): void {
  if (lib.ioctl(fd, lib.facts.TIOCSWINSZ, new Uint16Array([rows, cols, 0, 0])) !== 0) {
    throw new Error(
      `Cannot set the terminal size to "${rows}x${cols}": ${lib.strerror(lib.errno())}`,
    );
  }
}

interface Launcher {
  program: string;
  args(tty: string, argv: string[]): string[];
}

/**
 * A program that makes the command a session leader and opens the terminal as
 * its stdin, stdout and stderr, which makes it the controlling terminal.
 * Deno cannot call setsid() between fork and exec itself, and `detached` only
 * creates a process group.
 */
function launcher(facts: OsFacts): Launcher {
  if (Deno.build.os === "darwin") {
    // macOS has no setsid(1) but ships perl; opening a tty does not make it the controlling one there, TIOCSCTTY does.
    const perl = "/usr/bin/perl";
    if (!isExecutableFile(perl)) {
      throw new Error(`Terminal sessions on macOS need "${perl}", which was not found`);
    }
    const script = 'use POSIX (); POSIX::setsid() or die "setsid: $!\\n"; ' +
      "my ($request, $tty) = splice(@ARGV, 0, 2); " +
      'open(my $t, "+<", $tty) or die "$tty: $!\\n"; ioctl($t, $request, 0); ' +
      "POSIX::dup2(fileno($t), $_) for 0 .. 2; " +
      'exec { $ARGV[0] } @ARGV; print STDERR "$ARGV[0]: $!\\n"; exit 127;';
    return {
      program: perl,
      args: (tty, argv) => ["-e", script, String(facts.TIOCSCTTY), tty, ...argv],
    };
  }
  const setsid = findProgram("setsid");
  if (!setsid) {
    throw new Error(
      `Terminal sessions need the "setsid" program (util-linux), which was not found`,
    );
  }
  // Opening the tty without O_NOCTTY in the new session leader makes it the controlling terminal.
  return {
    program: setsid,
    args: (tty, argv) => [
      "/bin/sh",
      "-c",
      'tty=$1; shift; exec "$@" <>"$tty" >&0 2>&0',
      "cmdop",
      tty,
      ...argv,
    ],
  };
}

function findProgram(name: string): string | undefined {
  const dirs = ["/usr/bin", "/bin", ...(Deno.env.get("PATH") ?? "").split(":")];
  return dirs.map((dir) => `${dir}/${name}`).find(isExecutableFile);
}

interface PtyFds {
  master: number;
  slave: number;
  /** Written once when the terminal is being released, never drained: wakes every poll() on the master. */
  wakeRead: number;
  wakeWrite: number;
  tty: string;
  graceMs: number;
}

class PtyProcess implements Pty {
  readonly pid: number;
  readonly readable: ReadableStream<Uint8Array>;
  readonly exited: Promise<PtyExit>;
  readonly #lib: Libc;
  readonly #fds: PtyFds;
  /** Set when release starts: no poll() may start and writes fail. */
  #stopping = false;
  /** In-flight poll() calls; the fds are closed only after all returned, so none can watch a reused fd number. */
  readonly #polls = new Set<Promise<number>>();
  #released?: Promise<void>;
  #closing?: Promise<void>;
  #programExited = false;
  #slaveOpen = true;
  #eof = false;
  readonly #eofSeen = Promise.withResolvers<void>();
  #readCancelled = false;
  /** Output drained at release, delivered before the stream ends. */
  readonly #tail: Uint8Array[] = [];
  #buffer = new Uint8Array(READ_CHUNK_BYTES);
  readonly #readPollFds = new Uint8Array(2 * POLLFD_BYTES);
  readonly #writePollFds = new Uint8Array(2 * POLLFD_BYTES);
  #writes: Promise<void> = Promise.resolve();

  constructor(lib: Libc, child: Deno.ChildProcess, fds: PtyFds) {
    this.#lib = lib;
    this.#fds = fds;
    this.pid = child.pid;
    this.readable = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        const chunk = await this.#nextChunk();
        if (this.#readCancelled) return;
        if (chunk) controller.enqueue(chunk);
        else controller.close();
      },
      cancel: () => {
        this.#readCancelled = true;
      },
    }, new CountQueuingStrategy({ highWaterMark: QUEUED_CHUNKS }));
    this.exited = child.status.then((status) =>
      status.signal ? { code: status.code, signal: status.signal } : { code: status.code }
    );
    this.exited.then(() => this.#afterExit());
  }

  write(data: Uint8Array): Promise<void> {
    const written = this.#writes.then(() => this.#writeAll(data));
    this.#writes = written.catch(() => {});
    return written;
  }

  resize(rows: number, cols: number): void {
    checkSize(rows, cols);
    if (this.#stopping) return;
    setWindowSize(this.#lib, this.#fds.master, rows, cols);
  }

  close(): Promise<void> {
    this.#closing ??= this.#hangUp();
    return this.#closing;
  }

  async #hangUp(): Promise<void> {
    const members = this.#programExited
      ? undefined
      : await sessionMembers(this.pid, this.#fds.tty).catch(() => () => Promise.resolve([]));
    // Closing the master first makes the kernel hang up the terminal: nothing can block writing to it any more.
    await this.#release();
    if (members) await terminateSession(this.pid, members, this.#fds.graceMs);
    await this.exited;
  }

  async #afterExit(): Promise<void> {
    this.#programExited = true;
    this.#closeSlave();
    if (this.#closing) return;
    // The last output can still be on its way through the kernel; end-of-file says it is all there,
    // unless a background job keeps the terminal open.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#eofSeen.promise,
      new Promise<void>((resolve) => timer = setTimeout(resolve, EXIT_DRAIN_MS)),
    ]);
    clearTimeout(timer);
    await this.#release();
  }

  #release(): Promise<void> {
    this.#released ??= (async () => {
      this.#stopping = true;
      const { master, wakeRead, wakeWrite } = this.#fds;
      this.#lib.write(wakeWrite, new Uint8Array(1));
      while (this.#polls.size > 0) await Promise.allSettled(this.#polls);
      try {
        let kept = 0;
        while (!this.#eof && kept < MAX_TAIL_BYTES) {
          const chunk = this.#readAvailable();
          if (!(chunk instanceof Uint8Array)) break;
          this.#tail.push(chunk);
          kept += chunk.length;
        }
      } catch {
        // What was read is kept; an unreadable terminal has nothing more to give.
      }
      this.#closeSlave();
      this.#lib.close(master);
      this.#lib.close(wakeRead);
      this.#lib.close(wakeWrite);
    })();
    return this.#released;
  }

  /** Once the program is gone, end-of-file can come as soon as its background jobs let go. */
  #closeSlave(): void {
    if (!this.#slaveOpen) return;
    this.#slaveOpen = false;
    this.#lib.close(this.#fds.slave);
  }

  async #nextChunk(): Promise<Uint8Array | undefined> {
    for (;;) {
      if (this.#tail.length > 0) return this.#tail.shift();
      if (this.#eof || this.#readCancelled) return undefined;
      if (this.#stopping) {
        await this.#released;
        if (this.#tail.length > 0) continue;
        return undefined;
      }
      const chunk = this.#readAvailable();
      if (chunk instanceof Uint8Array) return chunk;
      if (chunk === "eof") continue;
      await this.#poll(POLLIN, this.#readPollFds);
    }
  }

  /** Reads what is there, up to one buffer; only called while the master is open. */
  #readAvailable(): Uint8Array | "again" | "eof" {
    const lib = this.#lib;
    const buffer = this.#buffer;
    let filled = 0;
    let end: "again" | "eof" = "again";
    while (filled < buffer.length) {
      const n = lib.read(this.#fds.master, buffer.subarray(filled));
      if (n > 0) {
        filled += n;
        continue;
      }
      const errno = n === 0 ? EIO : lib.errno();
      if (errno === EINTR) continue;
      if (errno === lib.facts.EAGAIN) break;
      // EIO (Linux) or end-of-file (macOS): no process has the terminal open any more.
      if (errno !== EIO) throw new Error(`Cannot read from the terminal: ${lib.strerror(errno)}`);
      end = "eof";
      this.#eof = true;
      this.#eofSeen.resolve();
      break;
    }
    if (filled === 0) return end;
    if (filled === buffer.length) {
      // A full buffer is handed over as is, sparing a copy under bulk output.
      this.#buffer = new Uint8Array(READ_CHUNK_BYTES);
      return buffer;
    }
    return buffer.slice(0, filled);
  }

  async #writeAll(data: Uint8Array): Promise<void> {
    const lib = this.#lib;
    let offset = 0;
    while (offset < data.length) {
      if (this.#stopping) throw new Deno.errors.BrokenPipe("Terminal is closed");
      const n = lib.write(this.#fds.master, data.subarray(offset));
      if (n > 0) {
        offset += n;
        continue;
      }
      // Nothing accepted counts as a full buffer, so it is waited on rather than retried in a loop.
      const errno = n === 0 ? lib.facts.EAGAIN : lib.errno();
      if (errno === EINTR) continue;
      if (errno === lib.facts.EAGAIN) await this.#poll(POLLOUT, this.#writePollFds);
      else if (errno === EIO) throw new Deno.errors.BrokenPipe("Terminal is closed");
      else throw new Error(`Cannot write to the terminal: ${lib.strerror(errno)}`);
    }
  }

  /** Waits until the master is ready for `events` or the terminal is being released. */
  async #poll(events: number, pollFds: Uint8Array): Promise<void> {
    if (this.#stopping) return;
    const view = new DataView(pollFds.buffer);
    view.setInt32(0, this.#fds.master, true);
    view.setInt16(4, events, true);
    view.setInt16(6, 0, true);
    view.setInt32(POLLFD_BYTES, this.#fds.wakeRead, true);
    view.setInt16(POLLFD_BYTES + 4, POLLIN, true);
    view.setInt16(POLLFD_BYTES + 6, 0, true);
    // -1 (EINTR, when a signal lands on the worker thread) needs no handling: the caller retries.
    const polling = this.#lib.poll(pollFds, 2, -1);
    this.#polls.add(polling);
    try {
      await polling;
    } finally {
      this.#polls.delete(polling);
    }
    if ((view.getInt16(6, true) & POLLNVAL) !== 0) {
      // poll() on macOS has not supported every device: wait a little instead of spinning.
      await new Promise((resolve) => setTimeout(resolve, NVAL_RETRY_MS));
    }
  }
}

/** Lists the live processes of a session: all of them, or those of `known` still there. */
type SessionMembers = (known?: number[]) => Promise<number[]>;

async function sessionMembers(sid: number, tty: string): Promise<SessionMembers> {
  if (Deno.build.os === "linux") {
    return (known) => Promise.resolve(linuxSessionMembers(sid, known));
  }
  // macOS: found by controlling terminal, which the hang-up takes away, so listed before it.
  const initial = await psLive(["-t", tty.replace(/^\/dev\//, "")]);
  return (known = initial) =>
    known.length === 0 ? Promise.resolve([]) : psLive(["-p", known.join(",")]);
}

function linuxSessionMembers(sid: number, known?: number[]): number[] {
  const pids = known ??
    Array.from(Deno.readDirSync("/proc"), (entry) => Number(entry.name)).filter(Number.isInteger);
  return pids.filter((pid) => {
    let stat: string;
    try {
      stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    } catch {
      return false; // Exited meanwhile.
    }
    // "pid (comm) state ppid pgrp session ...": comm may contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[3]) === sid && fields[0] !== "Z";
  });
}

async function psLive(selection: string[]): Promise<number[]> {
  const { stdout } = await new Deno.Command("ps", {
    args: [...selection, "-o", "pid=,stat="],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(stdout).split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter(([pid, stat]) => pid && stat && !stat.startsWith("Z"))
    .map(([pid]) => Number(pid));
}

/** SIGHUP to everything in the session, SIGKILL to what is left after `graceMs`. */
async function terminateSession(
  sid: number,
  members: SessionMembers,
  graceMs: number,
): Promise<void> {
  // Listing needs /proc (or ps); without it the leader and its process group are still signalled.
  const list = (known?: number[]) => members(known).catch(() => []);
  const signal = (pids: number[], name: Deno.Signal) => {
    // The negative id reaches the leader's process group even when listing missed a fresh child;
    // the leader itself is named in case it never became one.
    for (const pid of new Set([-sid, sid, ...pids])) {
      try {
        Deno.kill(pid, name);
      } catch {
        // Already gone.
      }
    }
  };
  const pause = () => new Promise((resolve) => setTimeout(resolve, SESSION_POLL_MS));
  let left = await list();
  signal(left, "SIGHUP");
  // A stopped job acts on SIGHUP only once continued, as after a real hang-up.
  signal(left, "SIGCONT");
  const killAt = Date.now() + graceMs;
  // Only known processes are checked while waiting: a full listing reads /proc for every process.
  while (left.length > 0 && Date.now() < killAt) {
    await pause();
    left = await list(left);
  }
  // A full listing again: a process may have started another while it was hanging up.
  const giveUpAt = Date.now() + KILL_WAIT_MS;
  for (left = await list(); left.length > 0 && Date.now() < giveUpAt; left = await list(left)) {
    signal(left, "SIGKILL");
    await pause();
  }
}
