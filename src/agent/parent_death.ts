/** withParentDeathSignal: starts a command so that the kernel kills it the moment the agent dies, even by SIGKILL. */

const SETPRIV_PATHS = ["/usr/bin/setpriv", "/bin/setpriv"];

let setprivPath: string | null | undefined;

/**
 * `setpriv` (util-linux) on Linux, which sets the parent-death signal and then
 * runs the command in its own place (same pid); `undefined` elsewhere. Deno
 * cannot call prctl() between fork and exec itself.
 */
function setpriv(): string | undefined {
  if (setprivPath === undefined) {
    setprivPath = Deno.build.os === "linux" ? SETPRIV_PATHS.find(isExecutableFile) ?? null : null;
  }
  return setprivPath ?? undefined;
}

/**
 * What goes before a command line to give it SIGKILL as its parent-death
 * signal; empty where `setpriv` is not available.
 *
 * @example
 * ```ts
 * const argv = [...parentDeathPrefix(), "/usr/bin/setsid", "sh"];
 * ```
 */
export function parentDeathPrefix(): string[] {
  const wrapper = setpriv();
  return wrapper ? [wrapper, "--pdeathsig", "KILL", "--"] : [];
}

/**
 * The argv that runs `argv` with SIGKILL as its parent-death signal: when the
 * agent ends without a chance to clean up, the command it started goes with
 * it (its own children are ended by the process tracker's next start). Where
 * there is no `setpriv`, `argv` is returned as it is. Because `setpriv` itself
 * always starts, a missing or non-executable command is reported here first,
 * with the error `Deno.Command` would have thrown (`NotFound`, `PermissionDenied`).
 *
 * @example
 * ```ts
 * const [program, ...args] = withParentDeathSignal(["cat", "/dev/zero"], { path: env.PATH });
 * new Deno.Command(program, { args, detached: true }).spawn();
 * ```
 */
export function withParentDeathSignal(
  argv: string[],
  where: { path?: string; cwd?: string } = {},
): string[] {
  const wrapper = setpriv();
  if (!wrapper) return argv;
  checkRunnable(argv[0], where.path, where.cwd);
  return [...parentDeathPrefix(), ...argv];
}

/** Throws what spawning `program` would: `NotFound` when there is none, `PermissionDenied` when it cannot run. */
function checkRunnable(program: string, path: string | undefined, cwd: string | undefined): void {
  const candidates = program.includes("/")
    ? [program.startsWith("/") || !cwd ? program : `${cwd}/${program}`]
    : (path ?? "/usr/local/bin:/usr/bin:/bin").split(":").map((dir) => `${dir || "."}/${program}`);
  let found = false;
  for (const candidate of candidates) {
    let info: Deno.FileInfo;
    try {
      info = Deno.statSync(candidate);
    } catch {
      continue;
    }
    if (!info.isFile) continue;
    found = true;
    if (((info.mode ?? 0o111) & 0o111) !== 0) return;
  }
  if (program === "") throw new Deno.errors.NotFound("empty command");
  if (found) throw new Deno.errors.PermissionDenied(`Permission denied: "${program}"`);
  throw new Deno.errors.NotFound(`No such file or directory: "${program}"`);
}

function isExecutableFile(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    return info.isFile && ((info.mode ?? 0) & 0o111) !== 0;
  } catch {
    return false;
  }
}
