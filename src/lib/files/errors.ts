/** FileCopyError and describeFsError: failures of a copy that name the path, for either end to report. */

/** A copy failed for a reason worth telling as is (it names the path). */
export class FileCopyError extends Error {
  override name = "FileCopyError";
}

/**
 * A file system error in words (`no such file or directory`, `permission denied`, `no space
 * left on device`, …), without Deno's trailing path and syscall details.
 *
 * @example
 * ```ts
 * describeFsError(new Deno.errors.NotFound("…")); // "no such file or directory"
 * ```
 */
export function describeFsError(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "no such file or directory";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.AlreadyExists) return "it already exists";
  if (error instanceof Deno.errors.IsADirectory) return "it is a directory";
  if (error instanceof Deno.errors.NotADirectory) return "a part of the path is not a directory";
  const message = error instanceof Error ? error.message : String(error);
  if (/ENOSPC|No space left/i.test(message)) return "no space left on device";
  if (/EDQUOT|quota/i.test(message)) return "disk quota exceeded";
  if (/EROFS|read-only/i.test(message)) return "read-only file system";
  // "Some words (os error 28): open '/x'" → "some words"
  const words = message.replace(/\s*\(os error \d+\).*$/s, "").replace(/:\s*\w+\s+'.*$/s, "");
  return words.charAt(0).toLowerCase() + words.slice(1);
}
