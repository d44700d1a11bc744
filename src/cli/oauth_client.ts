/** The CLI's side of the relay's OAuth endpoints: device authorization, token requests, revocation. */
import { CliError } from "./errors.ts";
import { unreachableRelay } from "./unreachable.ts";

/** The relay knows the CLI as this public client. */
export const CLIENT_ID = "cmdop-cli";

/** RFC 8628 section 3.4 grant type. */
export const DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";

/** The answer of `POST /oauth/device_authorization` (RFC 8628 section 3.2). */
export interface DeviceAuthorization {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete?: string;
  expires_in: number;
  /** Seconds between polls; 5 when absent. */
  interval?: number;
}

/** A successful token response (RFC 6749 section 5.1), with the relay's `user`. */
export interface TokenResponse {
  access_token: string;
  token_type: string;
  expires_in?: number;
  refresh_token?: string;
  user?: { id: string; email?: string };
}

/**
 * An RFC 6749 error answer, e.g. `authorization_pending` or `invalid_grant`.
 *
 * @example
 * ```ts
 * if (error instanceof OAuthError && error.code === "slow_down") interval += 5;
 * ```
 */
export class OAuthError extends Error {
  constructor(readonly code: string, description: string) {
    super(description || code);
    this.name = "OAuthError";
  }
}

/** How the client reaches the relay. */
export interface OAuthTarget {
  /** The relay's base URL. */
  server: string;
  /** Where that URL came from (`--server flag`, …), for the error when it cannot be reached. */
  serverSource?: string;
  fetch: typeof globalThis.fetch;
  signal?: AbortSignal;
}

/**
 * Starts a device authorization.
 *
 * @example
 * ```ts
 * const auth = await requestDeviceCode({ server, fetch });
 * ```
 */
export async function requestDeviceCode(target: OAuthTarget): Promise<DeviceAuthorization> {
  const body = await postForm(target, "/oauth/device_authorization", { client_id: CLIENT_ID });
  if (typeof body.device_code !== "string" || typeof body.user_code !== "string") {
    throw new CliError(`the relay at "${target.server}" sent an unexpected device authorization`);
  }
  return body as unknown as DeviceAuthorization;
}

/**
 * One token request (a device code poll or a refresh); an {@linkcode OAuthError} when
 * the relay answers with an error code.
 *
 * @example
 * ```ts
 * const tokens = await requestToken(target, { grant_type: "refresh_token", refresh_token });
 * ```
 */
export async function requestToken(
  target: OAuthTarget,
  params: Record<string, string>,
): Promise<TokenResponse> {
  const body = await postForm(target, "/oauth/token", { client_id: CLIENT_ID, ...params });
  if (typeof body.access_token !== "string") {
    throw new CliError(`the relay at "${target.server}" sent a token response without a token`);
  }
  return body as unknown as TokenResponse;
}

/**
 * Revokes a token and with it the whole login (RFC 7009).
 *
 * @example
 * ```ts
 * await revokeToken(target, login.refresh_token);
 * ```
 */
export async function revokeToken(target: OAuthTarget, token: string): Promise<void> {
  await postForm(target, "/oauth/revoke", { client_id: CLIENT_ID, token });
}

async function postForm(
  target: OAuthTarget,
  path: string,
  params: Record<string, string>,
): Promise<Record<string, unknown>> {
  const url = `${target.server.replace(/\/+$/, "")}${path}`;
  let response: Response;
  try {
    response = await target.fetch(url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: new URLSearchParams(params).toString(),
      signal: target.signal,
    });
  } catch (error) {
    if (target.signal?.aborted) throw error;
    throw unreachableRelay(error, { server: target.server, source: target.serverSource });
  }
  const text = await response.text();
  let body: Record<string, unknown> | undefined;
  try {
    const parsed = JSON.parse(text);
    if (parsed && typeof parsed === "object") body = parsed;
  } catch {
    // Not JSON: reported below with the status.
  }
  if (typeof body?.error === "string") {
    throw new OAuthError(body.error, String(body.error_description ?? ""));
  }
  if (!response.ok || !body) {
    const hint = response.status === 404
      ? "this relay does not offer cmdop login (is it an older cmdop?)"
      : undefined;
    throw new CliError(`the relay answered ${response.status} to ${path}`, { hint });
  }
  return body;
}
