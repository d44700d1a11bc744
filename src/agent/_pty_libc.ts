/** The C side of the pseudo-terminal: per-OS facts, the typed libc binding through Deno FFI, and fd set-up. */

// The same on Linux and macOS; what differs is in OsFacts.
export const O_RDWR = 2;
const F_SETFD = 2, F_GETFL = 3, F_SETFL = 4, FD_CLOEXEC = 1;
export const POLLIN = 1, POLLOUT = 4, POLLNVAL = 0x20, POLLFD_BYTES = 8;
export const EINTR = 4, EIO = 5;

/** The constants and library names that differ between the supported systems. */
export interface OsFacts {
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
export interface Libc {
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
/** The C library, typed; fails on systems other than Linux and macOS. */
export function libc(): Libc {
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

/** Throws a RangeError unless both are whole numbers from 1 to 65535, the range a winsize holds. */
export function checkSize(rows: number, cols: number): void {
  const valid = (n: number) => Number.isInteger(n) && n >= 1 && n <= 65535;
  if (!valid(rows) || !valid(cols)) {
    throw new RangeError(
      `Terminal size must be whole numbers from 1 to 65535, got rows "${rows}" and cols "${cols}"`,
    );
  }
}

/** Opens a non-blocking, close-on-exec pseudo-terminal master, granted and unlocked. */
export function openMaster(lib: Libc): number {
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

/** Marks `fd` close-on-exec. */
export function setCloseOnExec(lib: Libc, fd: number): void {
  // Otherwise every program the agent starts would hold other sessions' terminals open.
  if (lib.fcntl(fd, F_SETFD, FD_CLOEXEC) !== 0) {
    throw new Error(`Cannot set close-on-exec: ${lib.strerror(lib.errno())}`);
  }
}

/** Sets the window size of the terminal behind `fd`. */
export function setWindowSize(lib: Libc, fd: number, rows: number, cols: number): void {
  if (lib.ioctl(fd, lib.facts.TIOCSWINSZ, new Uint16Array([rows, cols, 0, 0])) !== 0) {
    throw new Error(
      `Cannot set the terminal size to "${rows}x${cols}": ${lib.strerror(lib.errno())}`,
    );
  }
}
