/** Random secrets, their hashes, and ids: the only way cmdop mints credentials. */

const encoder = new TextEncoder();

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

/** SHA-256 of a secret as hex; what the relay stores instead of the secret. */
export async function hashSecret(secret: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", encoder.encode(secret));
  return toHex(new Uint8Array(digest));
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

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function toBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}
