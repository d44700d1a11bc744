/** The relay as its own OAuth 2.0 authorization server: device authorization (RFC 8628), token and revocation endpoints. */
import { hashSecret, newSecret } from "../../lib/secrets.ts";
import { BodyTooLargeError, isBodyTimeout, readBodyCapped } from "../admission.ts";
import { SecretPrefix } from "../auth.ts";
import type { DeviceCodeRecord } from "./login_store.ts";
import {
  exchangeRefreshToken,
  issueLoginTokens,
  type LoginContext,
  OAuthError,
  revokeLoginToken,
} from "./tokens.ts";
import { formatUserCode, newUserCode } from "./user_code.ts";
import { MAX_FORM_BODY_BYTES } from "../limits.ts";
import { auditLogin } from "./login_audit.ts";

/** The one client the relay knows: the cmdop CLI, a public client (no secret). */
export const CLI_CLIENT_ID = "cmdop-cli";

const DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";

/** What the device flow adds to the login context. */
export interface DeviceFlowOptions {
  /** Seconds between polls a client is told to keep (RFC 8628 suggests 5). */
  intervalS: number;
  /** How long a user code can be approved. */
  deviceCodeTtlMs: number;
}

/** `POST /oauth/device_authorization`: a device code for the CLI and a user code for the person. */
export async function deviceAuthorization(
  ctx: LoginContext,
  options: DeviceFlowOptions,
  req: Request,
): Promise<Response> {
  return await oauthResponse(async () => {
    const form = await readForm(req);
    checkClient(form);
    const deviceCode = newSecret(SecretPrefix.deviceCode);
    const now = ctx.deps.now();
    const record: DeviceCodeRecord = {
      deviceCodeHash: await hashSecret(deviceCode),
      userCode: newUserCode(),
      clientId: CLI_CLIENT_ID,
      createdMs: now,
      expiresMs: now + options.deviceCodeTtlMs,
      intervalS: options.intervalS,
      lastPollMs: null,
      status: "pending",
      userId: null,
    };
    await ctx.store.insertDeviceCode(record);
    const page = `${ctx.deps.publicUrl.replace(/\/+$/, "")}/device`;
    const userCode = formatUserCode(record.userCode);
    return {
      device_code: deviceCode,
      user_code: userCode,
      verification_uri: page,
      verification_uri_complete: `${page}?user_code=${encodeURIComponent(userCode)}`,
      expires_in: Math.floor(options.deviceCodeTtlMs / 1000),
      interval: options.intervalS,
    };
  });
}

/** `POST /oauth/token`: the device_code and refresh_token grants; `peer` is the caller's address. */
export async function tokenEndpoint(
  ctx: LoginContext,
  req: Request,
  peer = "",
): Promise<Response> {
  return await oauthResponse(async () => {
    const form = await readForm(req);
    checkClient(form);
    const grantType = form.get("grant_type");
    if (grantType === DEVICE_CODE_GRANT) {
      return await pollDeviceCode(ctx, required(form, "device_code"), peer);
    }
    if (grantType === "refresh_token") {
      return await exchangeRefreshToken(ctx, required(form, "refresh_token"));
    }
    throw new OAuthError(
      "unsupported_grant_type",
      `grant_type "${grantType ?? ""}" is not supported`,
    );
  });
}

/** `POST /oauth/revoke` (RFC 7009): ends the login a token belongs to. Always 200. */
export async function revocationEndpoint(
  ctx: LoginContext,
  req: Request,
  peer = "",
): Promise<Response> {
  return await oauthResponse(async () => {
    const form = await readForm(req);
    const userId = await revokeLoginToken(ctx, required(form, "token"));
    if (userId) await auditLogin(ctx, userId, "logout", peer);
    return {};
  });
}

async function pollDeviceCode(
  ctx: LoginContext,
  deviceCode: string,
  peer: string,
): Promise<object> {
  const hash = await hashSecret(deviceCode);
  const record = await ctx.store.deviceCodeByHash(hash);
  const now = ctx.deps.now();
  if (!record) throw new OAuthError("invalid_grant", "device code is not valid");
  if (record.status === "consumed") {
    throw new OAuthError("invalid_grant", "device code was already used");
  }
  if (now >= record.expiresMs) throw new OAuthError("expired_token", "device code expired");
  if (record.status === "denied") throw new OAuthError("access_denied", "the login was denied");
  // A little slack: a client's timer may fire a few milliseconds before the relay's clock agrees.
  if (record.lastPollMs !== null && now - record.lastPollMs < record.intervalS * 800) {
    await ctx.store.updateDeviceCode(hash, { lastPollMs: now, intervalS: record.intervalS + 5 });
    throw new OAuthError("slow_down", `poll at most every ${record.intervalS + 5}s`);
  }
  await ctx.store.updateDeviceCode(hash, { lastPollMs: now });
  if (record.status === "pending") {
    throw new OAuthError("authorization_pending", "waiting for the code to be approved");
  }
  if (!record.userId || !(await ctx.store.consumeDeviceCode(hash))) {
    throw new OAuthError("invalid_grant", "device code was already used");
  }
  const tokens = await issueLoginTokens(ctx, record.userId);
  const user = await ctx.store.userById(record.userId);
  ctx.deps.log(`login by ${user?.email ?? record.userId} through the device flow`);
  await auditLogin(ctx, record.userId, "login", peer);
  return user ? { ...tokens, user: { id: user.id, email: user.email } } : tokens;
}

function checkClient(form: URLSearchParams): void {
  const clientId = form.get("client_id");
  if (!clientId) throw new OAuthError("invalid_request", "client_id is required");
  if (clientId !== CLI_CLIENT_ID) {
    throw new OAuthError("invalid_client", `client "${clientId}" is not known`, 401);
  }
}

function required(form: URLSearchParams, name: string): string {
  const value = form.get(name);
  if (!value) throw new OAuthError("invalid_request", `${name} is required`);
  return value;
}

/**
 * Reads an `application/x-www-form-urlencoded` body, as RFC 6749 requires of
 * clients; a body past 16 KiB is refused (413) from its Content-Length, or
 * as soon as that much has arrived, without reading the rest.
 */
export async function readForm(req: Request): Promise<URLSearchParams> {
  const type = req.headers.get("content-type") ?? "";
  if (!type.toLowerCase().startsWith("application/x-www-form-urlencoded")) {
    await req.body?.cancel().catch(() => {});
    throw new OAuthError("invalid_request", "the body must be application/x-www-form-urlencoded");
  }
  let body: Uint8Array;
  try {
    body = await readBodyCapped(req, MAX_FORM_BODY_BYTES);
  } catch (error) {
    if (isBodyTimeout(error)) {
      throw new OAuthError("invalid_request", error.message, 408);
    }
    if (!(error instanceof BodyTooLargeError)) throw error;
    throw new OAuthError(
      "invalid_request",
      `body too large: at most ${MAX_FORM_BODY_BYTES} bytes`,
      413,
    );
  }
  return new URLSearchParams(new TextDecoder().decode(body));
}

/** JSON success, or an RFC 6749 error object; never cached (tokens are in it). */
async function oauthResponse(produce: () => Promise<object>): Promise<Response> {
  const headers = { "content-type": "application/json", "cache-control": "no-store" };
  try {
    return new Response(JSON.stringify(await produce()), { headers });
  } catch (error) {
    if (!(error instanceof OAuthError)) throw error;
    const body = { error: error.code, error_description: error.message };
    return new Response(JSON.stringify(body), { status: error.status, headers });
  }
}
