/** The cp archive stream: length-prefixed JSON headers, each file's content as chunks and its sha256. */

/**
 * Layout, shared by the agent and the CLI (both ends of `cmdop connect cp`):
 *
 * - a record is a 4-byte big-endian length and that many bytes of JSON ({@linkcode ArchiveHeader});
 * - after a `file` header come its chunks, each a 4-byte length and up to {@linkcode MAX_CHUNK_BYTES}
 *   bytes, then a zero-length chunk, then the 32-byte sha256 of the content;
 * - `end` closes the archive.
 *
 * Content is chunked rather than announced with a size so that stdin (size unknown) and a
 * file that grows or shrinks while it is read still make a well-formed stream, and so that
 * a receiver never needs more than one chunk and one header in memory.
 */

/** The longest JSON header accepted: paths are at most PATH_MAX, this leaves room. */
export const MAX_HEADER_BYTES = 64 * 1024;
/** The longest content chunk accepted (and written). */
export const MAX_CHUNK_BYTES = 256 * 1024;
/** Bytes of a sha256 digest, written after a file's last chunk. */
export const DIGEST_BYTES = 32;
/** Deepest path accepted inside an archive (components). */
export const MAX_PATH_DEPTH = 256;
/** Longest path accepted inside an archive (UTF-16 code units, ~PATH_MAX). */
export const MAX_PATH_LENGTH = 4096;

/** A record's JSON header. Paths are relative, `/`-separated, and start with the copied item's name. */
export type ArchiveHeader =
  | { type: "total"; bytes: number; files: number }
  | { type: "dir"; path: string; mode: number }
  | { type: "file"; path: string; mode: number; stream?: boolean }
  | { type: "skipped"; path: string; reason: string; error?: boolean }
  | { type: "end" };

/** A problem with an archive or a path in it: the peer sent something cmdop does not accept. */
export class ArchiveError extends Error {
  override name = "ArchiveError";
}

/**
 * Encodes a header record.
 *
 * @example
 * ```ts
 * const bytes = encodeHeader({ type: "dir", path: "logs", mode: 0o755 });
 * ```
 */
export function encodeHeader(header: ArchiveHeader): Uint8Array<ArrayBuffer> {
  const json = new TextEncoder().encode(JSON.stringify(header));
  if (json.length > MAX_HEADER_BYTES) {
    throw new ArchiveError(`a header of ${json.length} bytes is over the limit`);
  }
  const out = new Uint8Array(4 + json.length);
  new DataView(out.buffer).setUint32(0, json.length);
  out.set(json, 4);
  return out;
}

/**
 * Checks a path from an archive and returns its components: relative, no empty, `.` or `..`
 * component, no NUL, within the depth and length limits. What passes can be joined under a
 * destination without leaving it.
 *
 * @example
 * ```ts
 * archivePathParts("logs/nginx/access.log"); // ["logs", "nginx", "access.log"]
 * archivePathParts("../etc/passwd");         // throws ArchiveError
 * ```
 */
export function archivePathParts(path: unknown): string[] {
  if (typeof path !== "string" || path === "") {
    throw new ArchiveError("an entry has no path");
  }
  const shown = JSON.stringify(path.length > 200 ? path.slice(0, 200) + "…" : path);
  if (path.length > MAX_PATH_LENGTH) throw new ArchiveError(`path ${shown} is too long`);
  if (path.includes("\0")) throw new ArchiveError(`path ${shown} holds a NUL byte`);
  if (path.startsWith("/")) throw new ArchiveError(`path ${shown} is absolute`);
  const parts = path.split("/");
  if (parts.length > MAX_PATH_DEPTH) throw new ArchiveError(`path ${shown} is too deep`);
  for (const part of parts) {
    if (part === "") throw new ArchiveError(`path ${shown} has an empty component`);
    if (part === "." || part === "..") {
      throw new ArchiveError(`path ${shown} has a "${part}" component`);
    }
  }
  return parts;
}

/** Checks a header's fields after JSON parsing; returns it typed. */
export function checkHeader(value: unknown): ArchiveHeader {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ArchiveError("an archive header is not a JSON object");
  }
  const header = value as Record<string, unknown>;
  switch (header.type) {
    case "total":
      if (!isCount(header.bytes) || !isCount(header.files)) {
        throw new ArchiveError("a total header has bad counts");
      }
      return { type: "total", bytes: header.bytes, files: header.files };
    case "dir":
    case "file": {
      archivePathParts(header.path);
      const mode = header.mode;
      if (!Number.isInteger(mode) || (mode as number) < 0 || (mode as number) > 0o7777) {
        throw new ArchiveError(`entry ${JSON.stringify(header.path)} has a bad mode`);
      }
      return header.type === "dir"
        ? { type: "dir", path: header.path as string, mode: mode as number }
        : {
          type: "file",
          path: header.path as string,
          mode: mode as number,
          stream: header.stream === true,
        };
    }
    case "skipped":
      archivePathParts(header.path);
      return {
        type: "skipped",
        path: header.path as string,
        reason: String(header.reason ?? "skipped").slice(0, 500),
        error: header.error === true,
      };
    case "end":
      return { type: "end" };
    default:
      throw new ArchiveError(
        `unknown archive header type ${JSON.stringify(String(header.type).slice(0, 40))}`,
      );
  }
}

function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

/** Lower-case hex of a digest. */
export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
