/** User codes of the device flow: short, unambiguous, and typed by a person (RFC 8628 section 6.1). */

/** Twenty consonants: no vowels (no accidental words), none that look like digits. */
const ALPHABET = "BCDFGHJKLMNPQRSTVWXZ";
const LENGTH = 8;

/**
 * A random user code of 8 letters (20^8, about 2^34.6 values), stored without the dash.
 *
 * @example
 * ```ts
 * newUserCode(); // "WDJBMJHT"
 * ```
 */
export function newUserCode(): string {
  let code = "";
  while (code.length < LENGTH) {
    for (const byte of crypto.getRandomValues(new Uint8Array(LENGTH * 2))) {
      // 240 is the largest multiple of 20 below 256: rejecting the rest keeps letters uniform.
      if (byte < 240 && code.length < LENGTH) code += ALPHABET[byte % ALPHABET.length];
    }
  }
  return code;
}

/**
 * The code as shown: two groups of four.
 *
 * @example
 * ```ts
 * formatUserCode("WDJBMJHT"); // "WDJB-MJHT"
 * ```
 */
export function formatUserCode(code: string): string {
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

/**
 * What a person typed, as stored: upper case, without dashes or spaces; `undefined`
 * when it cannot be a user code.
 *
 * @example
 * ```ts
 * normaliseUserCode("wdjb-mjht"); // "WDJBMJHT"
 * ```
 */
export function normaliseUserCode(typed: string): string | undefined {
  const code = typed.toUpperCase().replace(/[\s-]/g, "");
  if (code.length !== LENGTH) return undefined;
  for (const char of code) if (!ALPHABET.includes(char)) return undefined;
  return code;
}
