/** `cmdop login [--server URL]`: the OAuth 2.0 device flow against the relay; tokens go to CMDOP_HOME/auth.json. */
import { loadLoginTokens, saveLoginTokens } from "../../config/auth_tokens.ts";
import { resolveServer } from "../../config/credentials.ts";
import { normaliseServer } from "../access.ts";
import { openBrowser } from "../browser.ts";
import type { CliContext } from "../context.ts";
import { CliError, ExitCode } from "../errors.ts";
import { LOGIN_AGAIN_HINT, tokensFromResponse } from "../login_session.ts";
import {
  DEVICE_CODE_GRANT,
  OAuthError,
  type OAuthTarget,
  requestDeviceCode,
  requestToken,
  revokeToken,
  type TokenResponse,
} from "../oauth_client.ts";
import { relayFetch } from "../relay_client.ts";

/** Options of {@linkcode runLogin}. */
export interface LoginOptions {
  server?: string;
  json: boolean;
  interactive: boolean;
}

/**
 * Asks the relay for a device code, shows the verification URL and user code (and
 * opens a browser where one can open), polls the token endpoint at the pace the relay
 * sets (slower after each slow_down), and stores the tokens. A login replaced by
 * this one is revoked.
 *
 * @example
 * ```ts
 * await runLogin(ctx, { server: "https://relay.example", json: false, interactive: true });
 * ```
 */
export async function runLogin(ctx: CliContext, options: LoginOptions): Promise<void> {
  const home = ctx.home();
  const resolved = await resolveServer({ home, env: ctx.env, flags: { server: options.server } });
  const server = normaliseServer(resolved.server);
  const target: OAuthTarget = {
    server,
    serverSource: resolved.source,
    fetch: await relayFetch(ctx) ?? globalThis.fetch,
    signal: ctx.signal,
  };
  const auth = await requestDeviceCode(target);
  await ctx.stderr.write(
    `To sign in to ${server}, open ${auth.verification_uri}\n` +
      `and enter the code: ${auth.user_code}\n`,
  );
  const direct = auth.verification_uri_complete;
  if (direct && options.interactive && openBrowser({ env: ctx.env, os: Deno.build.os }, direct)) {
    await ctx.stderr.write("(opened in your browser)\n");
  }
  await ctx.stderr.write("waiting for approval…\n");
  const response = await poll(ctx, target, auth.device_code, auth.interval ?? 5, auth.expires_in);
  const previous = await loadLoginTokens(home).catch(() => undefined);
  const tokens = tokensFromResponse(server, response, ctx.now());
  await saveLoginTokens(home, tokens);
  if (previous?.refresh_token && previous.refresh_token !== tokens.refresh_token) {
    const old = {
      ...target,
      server: normaliseServer(previous.server),
      serverSource: undefined,
      signal: undefined,
    };
    await revokeToken(old, previous.refresh_token).catch(() => {});
  }
  const who = tokens.user?.email ?? tokens.user?.id ?? "you";
  if (options.json) {
    await ctx.stdout.write(
      JSON.stringify({
        server,
        user: tokens.user ?? null,
        expires_at: tokens.expires_at_ms ? new Date(tokens.expires_at_ms).toISOString() : null,
      }) + "\n",
    );
    return;
  }
  await ctx.stdout.write(`logged in as ${who} on ${server}\n`);
  await ctx.stderr.write("fetch your workspaces with: cmdop connect workspace sync\n");
}

async function poll(
  ctx: CliContext,
  target: OAuthTarget,
  deviceCode: string,
  intervalS: number,
  expiresInS: number,
): Promise<TokenResponse> {
  const deadline = ctx.now() + expiresInS * 1000;
  let interval = Math.max(1, intervalS);
  for (;;) {
    await sleep(interval * 1000, ctx.signal);
    try {
      return await requestToken(target, { grant_type: DEVICE_CODE_GRANT, device_code: deviceCode });
    } catch (error) {
      if (!(error instanceof OAuthError)) throw error;
      if (error.code === "authorization_pending") {
        if (ctx.now() < deadline) continue;
        throw failed("the code expired before it was approved");
      }
      if (error.code === "slow_down") {
        interval += 5; // RFC 8628 section 3.5: for this and every later poll
        continue;
      }
      if (error.code === "expired_token") throw failed("the code expired before it was approved");
      if (error.code === "access_denied") throw failed("the login was denied");
      throw failed(`the relay refused the login: ${error.code}: ${error.message}`);
    }
  }
}

function failed(message: string): CliError {
  return new CliError(message, { exitCode: ExitCode.auth, hint: LOGIN_AGAIN_HINT });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
