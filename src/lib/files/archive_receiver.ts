/** receiveArchive: writes a cp archive under a destination, each file under a temporary name until its sha256 matches. */
import { createHash, type Hash } from "node:crypto";
import { basename, dirname, join, resolve } from "node:path";
import { ArchiveError, archivePathParts, hex } from "./archive_format.ts";
import type { ArchiveEvent } from "./archive_reader.ts";
import { describeFsError, FileCopyError } from "./errors.ts";

/** Where and how to receive. */
export interface ReceiveOptions {
  /** A path, as cp takes it: an existing directory receives the item inside it. */
  destination: string;
  /** Instead of a destination: the single file's bytes go here (stdout). */
  sink?: (bytes: Uint8Array) => Promise<void>;
  /** Content bytes written so far (for a progress bar). */
  onProgress?: (bytes: number) => void;
  /** The sender's announced total, when it knows it. */
  onTotal?: (bytes: number, files: number) => void;
}

/** What arrived. */
export interface ReceivedSummary {
  files: number;
  bytes: number;
  skipped: { path: string; reason: string }[];
  /** The sender could not read some entry. */
  failed: boolean;
  /** The sha256 of the last file (the only one, for a single file). */
  sha256?: string;
  /** Where the copied item now is. */
  path?: string;
  /** Whether the copied item is a directory (undefined until the first entry). */
  isDirectory?: boolean;
}

/**
 * Consumes `events` (from `readArchive`) and writes what they describe. The first entry is
 * the copied item; with an existing directory as `destination` it lands inside it under its
 * own name, else it becomes `destination` (whose parent must exist). Every later entry must
 * lie below the first, inside a folder the archive already declared, so a hostile sender
 * cannot write outside the destination or through a link; links are never created. A file
 * is written to `.NAME.cmdop-XXXXXX.part` beside its final name, and renamed (with its mode
 * bits) only when its sha256 matches; on any failure, the temporary file is removed.
 *
 * @example
 * ```ts
 * const summary = await receiveArchive(readArchive(frames), { destination: "./logs" });
 * ```
 */
export async function receiveArchive(
  events: AsyncIterable<ArchiveEvent>,
  options: ReceiveOptions,
): Promise<ReceivedSummary> {
  const summary: ReceivedSummary = { files: 0, bytes: 0, skipped: [], failed: false };
  let top: { name: string; isDirectory: boolean; base: string } | undefined;
  const knownDirs = new Set<string>();
  const createdDirs: { path: string; mode: number }[] = [];
  let current:
    | { file?: Deno.FsFile; temp?: string; target: string; mode: number; hash: Hash }
    | undefined;
  let ended = false;
  try {
    for await (const event of events) {
      if (ended) throw new ArchiveError("entries follow the archive's end");
      if (event.type === "data") {
        if (!current) throw new ArchiveError("content outside a file");
        current.hash.update(event.bytes);
        if (current.file) await writeAll(current.file, event.bytes, current.target);
        else await options.sink!(event.bytes);
        summary.bytes += event.bytes.length;
        options.onProgress?.(summary.bytes);
        continue;
      }
      if (event.type === "file-end") {
        if (!current) throw new ArchiveError("a digest outside a file");
        const digest = new Uint8Array(current.hash.digest());
        if (hex(digest) !== hex(event.sha256)) {
          throw new FileCopyError(
            `"${current.target}": sha256 mismatch (sent ${hex(event.sha256)}, received ${
              hex(digest)
            })`,
          );
        }
        if (current.file) {
          const { file, temp, target, mode } = current;
          current.file = undefined;
          file.close();
          await fsStep(target, () => Deno.chmod(temp!, mode & 0o777));
          await fsStep(target, () => Deno.rename(temp!, target));
          current.temp = undefined;
        }
        summary.files += 1;
        summary.sha256 = hex(digest);
        current = undefined;
        continue;
      }
      const header = event.header;
      if (header.type === "total") {
        options.onTotal?.(header.bytes, header.files);
        continue;
      }
      if (header.type === "end") {
        ended = true;
        continue;
      }
      if (header.type === "skipped") {
        summary.skipped.push({ path: header.path, reason: header.reason });
        if (header.error) summary.failed = true;
        continue;
      }
      const parts = archivePathParts(header.path);
      const isDirectory = header.type === "dir";
      let target: string;
      if (!top) {
        summary.isDirectory = isDirectory;
        if (parts.length !== 1) {
          throw new ArchiveError(`the first entry "${header.path}" is not a top-level name`);
        }
        if (options.sink) {
          if (isDirectory) {
            throw new FileCopyError(`"${header.path}" is a directory: it cannot go to stdout`);
          }
          top = { name: parts[0], isDirectory, base: "-" };
          current = { target: "-", mode: header.mode, hash: createHash("sha256") };
          continue;
        }
        const base = await placeTop(
          options.destination,
          parts[0],
          isDirectory,
          header.type === "file" && header.stream === true,
        );
        top = { name: parts[0], isDirectory, base };
        summary.path = base;
        target = base;
      } else {
        if (!top.isDirectory || parts[0] !== top.name) {
          throw new ArchiveError(`entry "${header.path}" is outside the copied item`);
        }
        if (!knownDirs.has(parts.slice(0, -1).join("/"))) {
          throw new ArchiveError(`entry "${header.path}" comes before its folder`);
        }
        target = join(top.base, ...parts.slice(1));
      }
      if (isDirectory) {
        if (await ensureDirectory(target)) createdDirs.push({ path: target, mode: header.mode });
        knownDirs.add(parts.join("/"));
        continue;
      }
      if (options.sink) throw new ArchiveError("more than one file for stdout");
      const existing = await Deno.lstat(target).catch(() => undefined);
      if (existing?.isDirectory) throw new FileCopyError(`"${target}" is a directory`);
      const temp = join(dirname(target), `.${basename(target)}.cmdop-${randomTag()}.part`);
      current = { target, temp, mode: header.mode, hash: createHash("sha256") };
      current.file = await fsStep(
        target,
        () => Deno.open(temp, { write: true, createNew: true, mode: 0o600 }),
      );
    }
    if (!ended) throw new ArchiveError("the archive stops before its end");
    if (!top) throw new ArchiveError("the archive holds nothing");
    // Folders get their mode last: a read-only one must still take its files first.
    for (const dir of createdDirs.reverse()) {
      await fsStep(dir.path, () => Deno.chmod(dir.path, dir.mode & 0o777));
    }
    return summary;
  } finally {
    if (current?.file) {
      try {
        current.file.close();
      } catch {
        // Closed already.
      }
    }
    if (current?.temp) await Deno.remove(current.temp).catch(() => {});
  }
}

/**
 * Where the copied item goes, as cp decides it: inside an existing directory under its own
 * name, else the destination itself, whose parent must be a directory.
 */
async function placeTop(
  destination: string,
  name: string,
  isDirectory: boolean,
  fromStream: boolean,
): Promise<string> {
  const info = await Deno.stat(destination).catch(() => undefined);
  if (info?.isDirectory) {
    if (fromStream) {
      throw new FileCopyError(
        `"${destination}" is a directory: name the file to write stdin to`,
      );
    }
    const base = join(destination, name);
    const existing = await Deno.lstat(base).catch(() => undefined);
    if (existing && isDirectory && !existing.isDirectory) {
      throw new FileCopyError(`"${base}" exists and is not a directory`);
    }
    return base;
  }
  if (info && isDirectory) {
    throw new FileCopyError(`"${destination}" exists and is not a directory`);
  }
  const parent = dirname(resolve(destination));
  const parentInfo = await Deno.stat(parent).catch(() => undefined);
  if (!parentInfo?.isDirectory) {
    throw new FileCopyError(
      `cannot write "${destination}": ${
        parentInfo ? `"${parent}" is not a directory` : `no such directory "${parent}"`
      }`,
    );
  }
  return destination;
}

/** Makes `path` a directory unless it is one (a real one: a link to one is refused); true if made. */
async function ensureDirectory(path: string): Promise<boolean> {
  const existing = await Deno.lstat(path).catch(() => undefined);
  if (existing) {
    if (existing.isDirectory) return false;
    throw new FileCopyError(`"${path}" exists and is not a directory`);
  }
  // Owner-writable until its files are in; its own mode comes at the end.
  await fsStep(path, () => Deno.mkdir(path, { mode: 0o700 }));
  return true;
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array, target: string): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    done += await fsStep(target, () => file.write(bytes.subarray(done)));
  }
}

/** Runs a file system step, turning its failure into an error that names `path`. */
async function fsStep<T>(path: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    throw new FileCopyError(`cannot write "${path}": ${describeFsError(error)}`);
  }
}

function randomTag(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(4)), (b) => b.toString(36).slice(-1))
    .join("") + Math.random().toString(36).slice(2, 4);
}
