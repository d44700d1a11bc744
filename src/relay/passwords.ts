/** Machine attach passwords on the relay: bcrypt hashes, and a limiter for wrong guesses. */

const BCRYPT_COST = 10;

/** bcrypt hash of an attach password (bcrypt-ts, loaded only when needed). */
export async function hashPassword(password: string): Promise<string> {
  const { hash } = await import("bcrypt-ts");
  return await hash(password, BCRYPT_COST);
}

/** Checks a password against its bcrypt hash. */
export async function verifyPassword(password: string, passwordHash: string): Promise<boolean> {
  const { compare } = await import("bcrypt-ts");
  return await compare(password, passwordHash);
}
