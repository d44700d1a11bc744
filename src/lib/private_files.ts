/** Private folders and files of the relay and the agent: mode 0700/0600, and no symbolic links inside them. */

const DIR_MODE = 0o700;
const FILE_MODE = 0o600;

/**
 * A file in a private folder that cmdop refuses to use: a symbolic link, or not a
 * plain file. The message names the file; its content is never read.
 *
 * @example
 * ```ts
 * throw new UnsafeFileError("/var/lib/cmdop/relay.db", "is a symbolic link");
 * ```
 */
export class UnsafeFileError extends Error {
  /** The file at fault. */
  readonly path: string;

  constructor(path: string, problem: string) {
    super(
      `"${path}" ${problem}; cmdop does not follow links out of its folders: ` +
        `replace it with a plain file or move it aside`,
    );
    this.name = "UnsafeFileError";
    this.path = path;
  }
}

/**
 * Refuses `path` when it is a symbolic link or anything but a plain file; a missing
 * file is fine. Called before a file in a private folder is opened, so that a link
 * planted there cannot point cmdop at a file elsewhere.
 *
 * @example
 * ```ts
 * await refuseLinkedFile("/var/lib/cmdop/relay.db");
 * ```
 */
export async function refuseLinkedFile(path: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  if (info.isSymlink) throw new UnsafeFileError(path, "is a symbolic link");
  if (!info.isFile) throw new UnsafeFileError(path, "is not a plain file");
}

/**
 * Creates `dir` with mode 0700 when missing; when it exists with a looser mode,
 * tightens it to 0700 and says so through `log` (a world-readable folder of secrets is
 * a finding, so it is never fixed silently).
 *
 * @example
 * ```ts
 * await securePrivateDir("/var/lib/cmdop", console.error);
 * ```
 */
export async function securePrivateDir(dir: string, log: (message: string) => void): Promise<void> {
  await Deno.mkdir(dir, { recursive: true, mode: DIR_MODE });
  await tighten(dir, DIR_MODE, "folder", log);
}

/**
 * Tightens an existing file to mode 0600, saying so through `log`; a missing file is
 * fine.
 *
 * @example
 * ```ts
 * await securePrivateFile("/var/lib/cmdop/relay.db", console.error);
 * ```
 */
export async function securePrivateFile(
  path: string,
  log: (message: string) => void,
): Promise<void> {
  await refuseLinkedFile(path);
  await tighten(path, FILE_MODE, "file", log);
}

async function tighten(
  path: string,
  mode: number,
  what: string,
  log: (message: string) => void,
): Promise<void> {
  if (Deno.build.os === "windows") return;
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  const current = (info.mode ?? 0) & 0o777;
  if ((current & 0o077) === 0) return;
  await Deno.chmod(path, mode);
  log(
    `warning: ${what} "${path}" was mode ${octal(current)}, open to other users; ` +
      `changed to ${octal(mode)}`,
  );
}

function octal(mode: number): string {
  return "0" + mode.toString(8).padStart(3, "0");
}
