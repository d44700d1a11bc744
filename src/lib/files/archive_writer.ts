/** writeArchive: a local file or tree (or a byte stream) as the cp archive, in blocks of bounded size. */
import { createHash } from "node:crypto";
import {
  type ArchiveHeader,
  DIGEST_BYTES,
  encodeHeader,
  hex,
  MAX_CHUNK_BYTES,
  MAX_PATH_DEPTH,
} from "./archive_format.ts";
import { basename, join } from "node:path";
import { describeFsError, FileCopyError } from "./errors.ts";

/** Something content can be read from: a file, or stdin. */
export interface ByteSource {
  /** Reads into `buffer`; null at the end. */
  read(buffer: Uint8Array): Promise<number | null>;
}

/** What is sent: a file, a tree (with `recursive`), or a stream of unknown size. */
export type ArchiveSource =
  | { kind: "path"; path: string; name: string; isDirectory: boolean; size: number; mode: number }
  | { kind: "stream"; name: string; stream: ByteSource };

/** What was sent, for the summary. */
export interface SentSummary {
  files: number;
  bytes: number;
  skipped: { path: string; reason: string }[];
  /** Some entry was skipped because of an error (not a link or special file). */
  failed: boolean;
  /** The sha256 of the last file sent (the only one, for a single file). */
  sha256?: string;
  /** Bytes the source holds, once measured (not for a stream). */
  total?: number;
}

/**
 * Checks the source path before anything is sent: it exists (the top level follows symbolic
 * links, as cp does), and a folder comes only with `recursive`. Errors name the path.
 *
 * @example
 * ```ts
 * const source = await openArchiveSource("/var/log/nginx", true);
 * ```
 */
export async function openArchiveSource(
  path: string,
  recursive: boolean,
): Promise<ArchiveSource> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    throw new FileCopyError(`cannot read "${path}": ${describeFsError(error)}`);
  }
  if (info.isDirectory && !recursive) {
    throw new FileCopyError(`"${path}" is a directory (use -r)`);
  }
  if (!info.isDirectory && !info.isFile) {
    throw new FileCopyError(`"${path}" is not a regular file or directory`);
  }
  const name = basename(await Deno.realPath(path));
  if (name === "" || name === "." || name === "..") {
    throw new FileCopyError(`cannot copy "${path}" as a whole: name a folder below it`);
  }
  return {
    kind: "path",
    path,
    name,
    isDirectory: info.isDirectory,
    size: info.size,
    mode: (info.mode ?? 0o644) & 0o7777,
  };
}

/**
 * Yields the archive of `source` in blocks of about `blockBytes` (a fresh buffer each, so the
 * caller may queue them), filling `summary` as it goes. Reading is paced by the consumer: a
 * block is read only when the previous one was taken, so memory stays at one block however
 * large the files. Links and special files below the top are skipped and reported; an entry
 * that cannot be read is skipped with `failed` set.
 *
 * @example
 * ```ts
 * const summary = newSentSummary();
 * for await (const block of writeArchive(source, summary, 1 << 20)) await send(block);
 * ```
 */
export async function* writeArchive(
  source: ArchiveSource,
  summary: SentSummary,
  blockBytes: number,
): AsyncGenerator<Uint8Array> {
  const out = new Blocks(Math.max(blockBytes, 64 * 1024));
  if (source.kind === "stream") {
    yield* out.header({ type: "file", path: source.name, mode: 0o644, stream: true });
    yield* sendContent(source.stream, out, summary);
  } else if (!source.isDirectory) {
    summary.total = source.size;
    yield* out.header({ type: "total", bytes: source.size, files: 1 });
    let file: Deno.FsFile;
    try {
      file = await Deno.open(source.path);
    } catch (error) {
      throw new FileCopyError(`cannot read "${source.path}": ${describeFsError(error)}`);
    }
    try {
      yield* out.header({ type: "file", path: source.name, mode: source.mode });
      yield* sendContent(file, out, summary);
    } finally {
      file.close();
    }
  } else {
    const total = await measureTree(source.path);
    summary.total = total.bytes;
    yield* out.header({ type: "total", bytes: total.bytes, files: total.files });
    yield* sendTree(source.path, source.name, source.mode, out, summary, 1);
  }
  yield* out.header({ type: "end" });
  yield* out.flush();
}

/** An empty summary. */
export function newSentSummary(): SentSummary {
  return { files: 0, bytes: 0, skipped: [], failed: false };
}

async function* sendTree(
  path: string,
  archivePath: string,
  mode: number,
  out: Blocks,
  summary: SentSummary,
  depth: number,
): AsyncGenerator<Uint8Array> {
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(path));
  } catch (error) {
    yield* skip(out, summary, archivePath, describeFsError(error), true);
    return;
  }
  yield* out.header({ type: "dir", path: archivePath, mode });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const childPath = join(path, entry.name);
    const childArchivePath = `${archivePath}/${entry.name}`;
    if (entry.isSymlink) {
      yield* skip(out, summary, childArchivePath, "symbolic link", false);
      continue;
    }
    if (!entry.isFile && !entry.isDirectory) {
      yield* skip(out, summary, childArchivePath, "special file", false);
      continue;
    }
    let info: Deno.FileInfo;
    try {
      info = await Deno.lstat(childPath);
    } catch (error) {
      yield* skip(out, summary, childArchivePath, describeFsError(error), true);
      continue;
    }
    const childMode = (info.mode ?? 0o644) & 0o7777;
    if (info.isDirectory) {
      if (depth + 1 >= MAX_PATH_DEPTH) {
        yield* skip(out, summary, childArchivePath, "too deep", true);
        continue;
      }
      yield* sendTree(childPath, childArchivePath, childMode, out, summary, depth + 1);
      continue;
    }
    let file: Deno.FsFile;
    try {
      file = await Deno.open(childPath);
    } catch (error) {
      yield* skip(out, summary, childArchivePath, describeFsError(error), true);
      continue;
    }
    try {
      yield* out.header({ type: "file", path: childArchivePath, mode: childMode });
      yield* sendContent(file, out, summary);
    } finally {
      file.close();
    }
  }
}

async function* skip(
  out: Blocks,
  summary: SentSummary,
  path: string,
  reason: string,
  error: boolean,
): AsyncGenerator<Uint8Array> {
  summary.skipped.push({ path, reason });
  if (error) summary.failed = true;
  yield* out.header({ type: "skipped", path, reason, error });
}

/** A file's chunks, the zero-length chunk and its digest. */
async function* sendContent(
  source: ByteSource,
  out: Blocks,
  summary: SentSummary,
): AsyncGenerator<Uint8Array> {
  const hash = createHash("sha256");
  for (;;) {
    // Room for a chunk that is worth it; else the block goes out first.
    if (out.room < 4 + 16 * 1024) yield* out.flush();
    const want = Math.min(MAX_CHUNK_BYTES, out.room - 4 - 4 - DIGEST_BYTES);
    const view = out.reserve(4 + want);
    let got = 0;
    while (got < want) {
      const n = await source.read(view.subarray(4 + got, 4 + want));
      if (n === null) break;
      got += n;
    }
    if (got === 0) {
      out.unreserve(4 + want);
      break;
    }
    new DataView(view.buffer, view.byteOffset, 4).setUint32(0, got);
    hash.update(view.subarray(4, 4 + got));
    out.unreserve(want - got);
    summary.bytes += got;
    if (got < want) {
      // A short read that was not the end would have been read on; this was the end.
      break;
    }
  }
  const digest = new Uint8Array(hash.digest());
  const tail = out.reserve(4 + DIGEST_BYTES);
  tail.fill(0, 0, 4);
  tail.set(digest, 4);
  summary.files += 1;
  summary.sha256 = hex(digest);
}

/** Fills fresh buffers of a fixed size with records; `flush` hands one out. */
class Blocks {
  #size: number;
  #buffer: Uint8Array<ArrayBuffer>;
  #used = 0;

  constructor(size: number) {
    this.#size = size;
    this.#buffer = new Uint8Array(size);
  }

  get room(): number {
    return this.#buffer.length - this.#used;
  }

  /** `n` bytes at the end of the current block (the caller made sure they fit). */
  reserve(n: number): Uint8Array {
    const view = this.#buffer.subarray(this.#used, this.#used + n);
    this.#used += n;
    return view;
  }

  /** Gives back the last `n` reserved bytes. */
  unreserve(n: number): void {
    this.#used -= n;
  }

  *header(header: ArchiveHeader): Generator<Uint8Array> {
    const bytes = encodeHeader(header);
    if (bytes.length > this.room) yield* this.flush();
    if (bytes.length > this.room) {
      yield bytes;
      return;
    }
    this.reserve(bytes.length).set(bytes);
  }

  *flush(): Generator<Uint8Array> {
    if (this.#used === 0) return;
    const block = this.#buffer.subarray(0, this.#used);
    this.#buffer = new Uint8Array(this.#size);
    this.#used = 0;
    yield block;
  }
}

/** Bytes and files below `path`, for the progress bar's total (links and specials not counted). */
async function measureTree(path: string): Promise<{ bytes: number; files: number }> {
  let bytes = 0;
  let files = 0;
  const pending = [path];
  while (pending.length > 0) {
    const dir = pending.pop()!;
    try {
      for await (const entry of Deno.readDir(dir)) {
        const child = join(dir, entry.name);
        if (entry.isDirectory) pending.push(child);
        else if (entry.isFile) {
          files += 1;
          bytes += (await Deno.lstat(child).catch(() => ({ size: 0 }))).size;
        }
      }
    } catch {
      // Reported when the tree is sent.
    }
  }
  return { bytes, files };
}
