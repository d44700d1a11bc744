/** cmdop's JSON files in CMDOP_HOME: validated reads, atomic 0600 writes, locked read-modify-write. */

import { basename, dirname, join } from "./_path.ts";
import { ConfigError } from "./errors.ts";
import { ShapeError, type Validator } from "./_validate.ts";

const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

/**
 * A cmdop file that cannot be read, parsed or written. The message names the file;
 * the file itself is never reset or overwritten because of it.
 *
 * @example
 * ```ts
 * throw new ConfigFileError("/home/u/.cmdop/recent.json", "is not valid JSON (error at byte 12)");
 * ```
 */
export class ConfigFileError extends ConfigError {
  /** The file at fault. */
  readonly path: string;

  constructor(
    path: string,
    problem: string,
    options: { cause?: unknown; hint?: string } = {},
  ) {
    super(`"${path}" ${problem}`, {
      hint: options.hint ??
        `fix or move "${path}" aside; cmdop does not overwrite a file it cannot read`,
      cause: options.cause,
    });
    this.name = "ConfigFileError";
    this.path = path;
  }
}

interface FileContent<T> {
  text: string;
  value: T;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Refuses a file of CMDOP_HOME that is a symbolic link: a link
 * planted there would make cmdop read, print or overwrite a file outside its folder.
 * A missing file is fine.
 */
async function refuseLink(path: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw new ConfigFileError(path, `cannot be read: ${messageOf(error)}`, { cause: error });
  }
  if (info.isSymlink) {
    throw new ConfigFileError(
      path,
      "is a symbolic link",
      {
        hint:
          `cmdop does not follow links out of its folder: replace "${path}" with a plain file or remove it`,
      },
    );
  }
}

/** Where JSON.parse stopped, without the snippet of content its message quotes. */
function jsonProblem(error: unknown): string {
  const at = /position (\d+)/.exec(messageOf(error));
  return at ? `is not valid JSON (error at byte ${at[1]})` : "is not valid JSON";
}

async function readContent<T>(
  path: string,
  validate: Validator<T>,
): Promise<FileContent<T> | undefined> {
  await refuseLink(path);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw new ConfigFileError(path, `cannot be read: ${messageOf(error)}`, {
      cause: error,
    });
  }
  let text: string;
  let parsed: unknown;
  try {
    text = utf8.decode(bytes);
  } catch (error) {
    throw new ConfigFileError(path, "is not valid UTF-8", { cause: error });
  }
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    // The parser's message quotes the content, which is never printed: it may not be ours.
    throw new ConfigFileError(path, jsonProblem(error));
  }
  try {
    return { text, value: validate(parsed) };
  } catch (error) {
    if (!(error instanceof ShapeError)) throw error;
    throw new ConfigFileError(path, `is not valid: ${error.message}`, {
      cause: error,
    });
  }
}

/**
 * Reads and validates a JSON file: `undefined` when it does not exist, a
 * {@linkcode ConfigFileError} naming the file when it is unreadable, not JSON, or the
 * wrong shape.
 *
 * @example
 * ```ts
 * const recent = await readJsonFile("/home/u/.cmdop/recent.json", (value) => value as { entries: unknown[] });
 * ```
 */
export async function readJsonFile<T = unknown>(
  path: string,
  validate: Validator<T> = (value) => value as T,
): Promise<T | undefined> {
  return (await readContent(path, validate))?.value;
}

/** The bytes cmdop writes for a value: two-space JSON and a final newline. */
export function formatJson(value: unknown): string {
  return JSON.stringify(value, null, 2) + "\n";
}

/**
 * Replaces a file atomically: the JSON goes to a temporary file in the same folder, is
 * flushed to disk, made mode 0600 and renamed over the target, so a reader sees the old
 * content or the new one, never a mix. The folder is created with mode 0700 if missing.
 *
 * @example
 * ```ts
 * await writeJsonFile("/home/u/.cmdop/auth.json", { server: "http://127.0.0.1:4780", access_token: "t" });
 * ```
 */
export async function writeJsonFile(
  path: string,
  value: unknown,
): Promise<void> {
  await writeText(path, formatJson(value));
}

async function writeText(path: string, text: string): Promise<void> {
  const dir = dirname(path);
  await ensureDir(path, dir);
  await refuseLink(path);
  const random = crypto.randomUUID().slice(0, 8);
  const tempPath = join(dir, `.${basename(path)}.${random}.tmp`);
  try {
    const file = await Deno.open(tempPath, {
      write: true,
      createNew: true,
      mode: FILE_MODE,
    });
    try {
      const bytes = new TextEncoder().encode(text);
      let written = 0;
      while (written < bytes.length) {
        written += await file.write(bytes.subarray(written));
      }
      await file.sync();
    } finally {
      file.close();
    }
    if (Deno.build.os !== "windows") await Deno.chmod(tempPath, FILE_MODE);
    await Deno.rename(tempPath, path);
  } catch (error) {
    await Deno.remove(tempPath).catch(() => {});
    throw new ConfigFileError(path, `cannot be written: ${messageOf(error)}`, {
      cause: error,
      hint: `check that "${dir}" is a writable folder`,
    });
  }
  await syncDir(dir);
}

async function ensureDir(path: string, dir: string): Promise<void> {
  try {
    await Deno.mkdir(dir, { recursive: true, mode: DIR_MODE });
  } catch (error) {
    throw new ConfigFileError(path, `cannot be written: ${messageOf(error)}`, {
      cause: error,
      hint: `check that "${dir}" can be created`,
    });
  }
}

/** Makes the rename itself durable; not every platform can open a folder, which is fine. */
async function syncDir(dir: string): Promise<void> {
  if (Deno.build.os === "windows") return;
  try {
    const handle = await Deno.open(dir, { read: true });
    try {
      await handle.sync();
    } finally {
      handle.close();
    }
  } catch {
    // The data is already in place; only durability across a power cut is weaker.
  }
}

/**
 * Runs `task` while holding an exclusive lock (flock) on the sidecar `<path>.lock`,
 * which works across processes. The lock file is left in place: deleting it would let
 * two processes lock two different files.
 */
async function withFileLock<R>(
  path: string,
  task: () => Promise<R>,
): Promise<R> {
  await ensureDir(path, dirname(path));
  const lockPath = `${path}.lock`;
  await refuseLink(lockPath);
  let lockFile: Deno.FsFile;
  try {
    lockFile = await Deno.open(lockPath, {
      read: true,
      write: true,
      create: true,
      mode: FILE_MODE,
    });
    await lockFile.lock(true);
  } catch (error) {
    throw new ConfigFileError(
      lockPath,
      `cannot be locked: ${messageOf(error)}`,
      {
        cause: error,
        hint: `check that "${dirname(path)}" is a writable folder`,
      },
    );
  }
  try {
    return await task();
  } finally {
    lockFile.close(); // closing releases the lock
  }
}

/**
 * Read-modify-write under an exclusive cross-process lock, so concurrent cmdop
 * processes never lose each other's updates. `update` gets the current validated value
 * (`undefined` when the file does not exist) and returns the new one; returning
 * `undefined` writes nothing, and so does returning a value that serialises to the
 * bytes already on disk. A file that cannot be read or validated is left untouched and
 * the {@linkcode ConfigFileError} propagates; so does anything `update` throws. The new
 * value passes `validate` before it is written, so cmdop never writes a file it would
 * then refuse to read.
 * `update` must be quick and must not prompt: other processes wait on the lock.
 * Returns the value now on disk.
 *
 * @example
 * ```ts
 * await updateJsonFile("/home/u/.cmdop/counter.json", (current?: { count: number }) => ({
 *   count: (current?.count ?? 0) + 1,
 * }));
 * ```
 */
export function updateJsonFile<T = unknown>(
  path: string,
  update: (current: T | undefined) => T | undefined | Promise<T | undefined>,
  validate: Validator<T> = (value) => value as T,
): Promise<T | undefined> {
  return withFileLock(path, async () => {
    const current = await readContent(path, validate);
    const next = await update(current?.value);
    if (next === undefined) return current?.value;
    const text = formatJson(next);
    if (text === current?.text) return next;
    try {
      validate(JSON.parse(text));
    } catch (error) {
      if (!(error instanceof ShapeError)) throw error;
      throw new Error(
        `refusing to write "${path}", which would not be valid: ${error.message}`,
        { cause: error },
      );
    }
    await writeText(path, text);
    return next;
  });
}

/**
 * Deletes a file under the same lock as {@linkcode updateJsonFile}; `false` when it
 * did not exist.
 *
 * @example
 * ```ts
 * const wasLoggedIn = await removeJsonFile("/home/u/.cmdop/auth.json");
 * ```
 */
export function removeJsonFile(path: string): Promise<boolean> {
  return withFileLock(path, async () => {
    try {
      await Deno.remove(path);
      return true;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return false;
      throw new ConfigFileError(
        path,
        `cannot be removed: ${messageOf(error)}`,
        {
          cause: error,
        },
      );
    }
  });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
