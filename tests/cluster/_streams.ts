/** Reading a child's output up to a marker without giving up the rest of the stream. */

/**
 * Reads `stream` until its text so far matches `pattern` and returns that
 * text; the stream stays readable (its reader lock is released), so the
 * child never blocks on a full pipe when the caller reads on.
 */
export async function readUntil(
  stream: ReadableStream<Uint8Array>,
  pattern: RegExp,
  timeoutMs = 15_000,
): Promise<string> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const timer = setTimeout(() => reader.cancel().catch(() => {}), timeoutMs);
  try {
    while (!pattern.test(text)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`stream ended before ${pattern}; it said: ${text}`);
      text += decoder.decode(value, { stream: true });
    }
    return text;
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
  }
}
