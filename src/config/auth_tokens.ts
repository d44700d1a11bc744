/** Tokens from `cmdop login`, kept in `CMDOP_HOME/auth.json` (mode 0600). */

import { readJsonFile, removeJsonFile, updateJsonFile } from "./json_file.ts";
import { configFilePath } from "./paths.ts";
import {
  expectObject,
  expectString,
  fieldPath,
  optionalNumber,
  optionalString,
  ShapeError,
} from "./_validate.ts";

/** Who is logged in, as the relay described them. */
export interface LoginUser {
  id: string;
  email?: string;
  name?: string;
}

/**
 * The content of `auth.json`. OAuth tokens are user-scoped: one login serves every
 * workspace of that user on `server`.
 */
export interface LoginTokens {
  /** The relay that issued the tokens. */
  server: string;
  access_token: string;
  refresh_token?: string;
  /** When `access_token` stops working, in ms since the epoch; absent when unknown. */
  expires_at_ms?: number;
  user?: LoginUser;
}

/**
 * Validates a parsed `auth.json`.
 *
 * @example
 * ```ts
 * parseLoginTokens({ server: "http://127.0.0.1:4780", access_token: "t" });
 * ```
 */
export function parseLoginTokens(value: unknown): LoginTokens {
  const root = expectObject(value, "");
  const tokens: LoginTokens = {
    server: expectString(root.server, "server"),
    access_token: expectString(root.access_token, "access_token"),
  };
  if (tokens.access_token === "") {
    throw new ShapeError("access_token", "must not be empty");
  }
  const refresh = optionalString(root.refresh_token, "refresh_token");
  if (refresh !== undefined) tokens.refresh_token = refresh;
  const expires = optionalNumber(root.expires_at_ms, "expires_at_ms");
  if (expires !== undefined) tokens.expires_at_ms = expires;
  if (root.user !== undefined && root.user !== null) {
    const user = expectObject(root.user, "user");
    tokens.user = { id: expectString(user.id, fieldPath("user", "id")) };
    const email = optionalString(user.email, fieldPath("user", "email"));
    if (email !== undefined) tokens.user.email = email;
    const name = optionalString(user.name, fieldPath("user", "name"));
    if (name !== undefined) tokens.user.name = name;
  }
  return tokens;
}

/**
 * Stores the tokens of a login or a refresh, replacing what was there.
 *
 * @example
 * ```ts
 * await saveLoginTokens(home, { server, access_token, refresh_token, expires_at_ms: now() + 3600_000 });
 * ```
 */
export async function saveLoginTokens(
  home: string,
  tokens: LoginTokens,
): Promise<void> {
  const checked = parseLoginTokens(tokens);
  await updateJsonFile(
    configFilePath(home, "auth"),
    () => checked,
    parseLoginTokens,
  );
}

/**
 * The stored login, or `undefined` when not logged in.
 *
 * @example
 * ```ts
 * const login = await loadLoginTokens(home);
 * ```
 */
export function loadLoginTokens(
  home: string,
): Promise<LoginTokens | undefined> {
  return readJsonFile(configFilePath(home, "auth"), parseLoginTokens);
}

/**
 * Forgets the login (`cmdop logout`); `false` when there was none.
 *
 * @example
 * ```ts
 * await clearLoginTokens(home);
 * ```
 */
export function clearLoginTokens(home: string): Promise<boolean> {
  return removeJsonFile(configFilePath(home, "auth"));
}

/**
 * Whether the access token has expired at `now`, or will within `marginMs` (so a
 * request started now does not fail half-way). Unknown expiry counts as valid.
 *
 * @example
 * ```ts
 * if (isAccessTokenExpired(login, ctx.now())) await refresh(login);
 * ```
 */
export function isAccessTokenExpired(
  tokens: LoginTokens,
  now: number,
  marginMs = 30_000,
): boolean {
  return tokens.expires_at_ms !== undefined &&
    tokens.expires_at_ms - marginMs <= now;
}
