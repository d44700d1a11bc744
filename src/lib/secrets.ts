/** Random secrets, their hashes, and ids: the only way cmdop mints credentials. */

/**
 * A random 256-bit secret, base64url, behind a readable prefix.
 *
 * @example
 * ```ts
 * const apiKey = newSecret("cmk"); // "cmk_Q2h…"
 * ```
 */
export function newSecret(prefix: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `${prefix}_${toBase64Url(bytes)}`;
}

/**
 * SHA-256 of a secret as hex; what the relay stores instead of the secret.
 * node:crypto's synchronous hash, not crypto.subtle: subtle.digest goes
 * through Deno's blocking-thread pool, 1.1 ms a call on a busy relay against
 * 34 µs (measured here, 5,000 calls), and every authenticated call (an agent's
 * heartbeat answer among them) hashes its credential: it was 40 % of the
 * relay's CPU with 500 agents answering every 2 s.
 */
export async function hashSecret(secret: string): Promise<string> {
  // Loaded on first use: node:crypto costs the CLI's start-up, which rarely hashes.
  const { createHash } = await import("node:crypto");
  return createHash("sha256").update(secret).digest("hex");
}

/** A random UUID (v4). */
export function newId(): string {
  return crypto.randomUUID();
}

/** True when the text has the shape of a UUID (any version). */
export function isUuidShaped(text: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(text);
}

/** Compares two strings in time independent of where they differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

function toBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}
