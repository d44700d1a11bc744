/** CappedOutput: a command's output kept within a byte limit, its start and its end, with a marker where the middle was cut. */
import { concatBytes } from "../../lib/bytes.ts";

/**
 * Collects one output stream of a command. Within `limit` bytes everything is kept; past it,
 * the first half and the last half of the limit are kept (a build log's error is at its end)
 * and the total is still counted.
 *
 * @example
 * ```ts
 * const out = new CappedOutput(65536);
 * out.push(chunk);
 * out.text(); // "…[cmdop mcp: 934464 bytes cut here; …]…"
 * ```
 */
export class CappedOutput {
  readonly #headLimit: number;
  readonly #tailLimit: number;
  readonly #head: Uint8Array[] = [];
  #headBytes = 0;
  /** The latest bytes past the head: whole chunks, at most one chunk more than the tail keeps. */
  #tail: Uint8Array[] = [];
  #tailBytes = 0;
  /** Bytes pushed in all. */
  total = 0;

  constructor(readonly limit: number) {
    this.#headLimit = Math.ceil(limit / 2);
    this.#tailLimit = limit - this.#headLimit;
  }

  push(data: Uint8Array): void {
    this.total += data.length;
    const room = this.#headLimit - this.#headBytes;
    if (room > 0) {
      const head = data.slice(0, room);
      this.#head.push(head);
      this.#headBytes += head.length;
      data = data.subarray(head.length);
    }
    if (data.length === 0) return;
    this.#tail.push(data.slice());
    this.#tailBytes += data.length;
    while (this.#tail.length > 1 && this.#tailBytes - this.#tail[0].length >= this.#tailLimit) {
      this.#tailBytes -= this.#tail.shift()!.length;
    }
  }

  /** Whether bytes were cut. */
  get truncated(): boolean {
    return this.total > this.limit;
  }

  /** The output as text; when cut, the marker says how much and how big it was. */
  text(): string {
    if (!this.truncated) {
      return new TextDecoder().decode(concatBytes([...this.#head, ...this.#tail]));
    }
    // A character cut at either end is left out rather than shown as U+FFFD.
    const head = endAtCharacter(concatBytes(this.#head));
    const joined = concatBytes(this.#tail);
    const tail = startAtCharacter(joined.subarray(joined.length - this.#tailLimit));
    const cut = this.total - head.length - tail.length;
    const decoder = new TextDecoder();
    return `${decoder.decode(head)}\n[cmdop mcp: ${cut} bytes cut here; the output was ` +
      `${this.total} bytes, the first ${head.length} and the last ${tail.length} are kept]\n` +
      decoder.decode(tail);
  }
}

const isContinuation = (byte: number) => (byte & 0xc0) === 0x80;

/** `bytes` from its first UTF-8 character start (at most 3 continuation bytes are skipped). */
function startAtCharacter(bytes: Uint8Array): Uint8Array {
  let start = 0;
  while (start < 3 && start < bytes.length && isContinuation(bytes[start])) start++;
  return bytes.subarray(start);
}

/** `bytes` without a UTF-8 character that its end cuts short. */
function endAtCharacter(bytes: Uint8Array): Uint8Array {
  let lead = bytes.length - 1;
  while (lead > bytes.length - 4 && lead > 0 && isContinuation(bytes[lead])) lead--;
  const byte = bytes[lead] ?? 0;
  const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
  return lead + length > bytes.length ? bytes.subarray(0, lead) : bytes;
}

/**
 * Reads a byte count as typed: a whole number, or with a K or M suffix (KiB, MiB).
 *
 * @example
 * ```ts
 * parseByteSize("64k"); // 65536
 * ```
 */
export function parseByteSize(text: string): number | undefined {
  const match = /^(\d+)\s*([km]?)(i?b)?$/i.exec(text.trim());
  if (!match) return undefined;
  const unit = { "": 1, k: 1024, m: 1024 * 1024 }[match[2].toLowerCase()]!;
  const bytes = Number(match[1]) * unit;
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}
