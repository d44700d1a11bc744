/** LoginSession: the `cmdop login` token a run uses, refreshed before it expires or when the relay refuses it. */
import type { Interceptor } from "@connectrpc/connect";
import { isAccessTokenExpired, type LoginTokens, parseLoginTokens } from "../config/auth_tokens.ts";
import { updateJsonFile } from "../config/json_file.ts";
import { configFilePath } from "../config/paths.ts";
import { ConnectCode, isConnectError } from "../lib/connect_errors.ts";
import { CliError, ExitCode } from "./errors.ts";
import { OAuthError, requestToken, type TokenResponse } from "./oauth_client.ts";

/** What to tell someone whose login no longer works. */
export const LOGIN_AGAIN_HINT = 'run "cmdop login" again';

/**
 * The login expired or was revoked and cannot be refreshed (exit code 2).
 *
 * @example
 * ```ts
 * throw new LoginExpiredError("/home/u/.cmdop/auth.json", "refresh token expired");
 * ```
 */
export class LoginExpiredError extends CliError {
  constructor(path: string, reason: string, cause?: unknown) {
    super(`the login in ${path} has expired or was revoked (${reason})`, {
      exitCode: ExitCode.auth,
      hint: LOGIN_AGAIN_HINT,
      cause,
    });
    this.name = "LoginExpiredError";
  }
}

/**
 * The stored form of a token response.
 *
 * @example
 * ```ts
 * await saveLoginTokens(home, tokensFromResponse(server, response, ctx.now()));
 * ```
 */
export function tokensFromResponse(
  server: string,
  response: TokenResponse,
  nowMs: number,
  previous?: LoginTokens,
): LoginTokens {
  const tokens: LoginTokens = { server, access_token: response.access_token };
  const refresh = response.refresh_token ?? previous?.refresh_token;
  if (refresh) tokens.refresh_token = refresh;
  if (typeof response.expires_in === "number") {
    tokens.expires_at_ms = nowMs + response.expires_in * 1000;
  }
  const user = response.user ?? previous?.user;
  if (user) tokens.user = user;
  return tokens;
}

/** The login of one run: its current access token, and a refresh shared by every call. */
export class LoginSession {
  #tokens: LoginTokens;
  #refreshing?: Promise<LoginTokens>;

  constructor(
    readonly home: string,
    tokens: LoginTokens,
    readonly fetch: typeof globalThis.fetch,
    readonly now: () => number,
  ) {
    this.#tokens = tokens;
  }

  /** The access token, refreshed first when it has (nearly) expired by this machine's clock. */
  async accessToken(): Promise<string> {
    if (isAccessTokenExpired(this.#tokens, this.now())) await this.refresh();
    return this.#tokens.access_token;
  }

  /**
   * Exchanges the refresh token, under the lock of `auth.json`: a concurrent cmdop
   * process that already refreshed leaves new tokens there, which are used instead of
   * spending the (single-use) refresh token again.
   */
  refresh(): Promise<LoginTokens> {
    this.#refreshing ??= this.#refreshLocked().finally(() => (this.#refreshing = undefined));
    return this.#refreshing;
  }

  async #refreshLocked(): Promise<LoginTokens> {
    const stale = this.#tokens;
    const path = configFilePath(this.home, "auth");
    const updated = await updateJsonFile(path, async (current) => {
      if (!current) throw new LoginExpiredError(path, "you logged out");
      if (current.access_token !== stale.access_token) return current;
      if (!current.refresh_token) throw new LoginExpiredError(path, "no refresh token was issued");
      try {
        const response = await requestToken({ server: current.server, fetch: this.fetch }, {
          grant_type: "refresh_token",
          refresh_token: current.refresh_token,
        });
        return tokensFromResponse(current.server, response, this.now(), current);
      } catch (error) {
        if (error instanceof OAuthError) throw new LoginExpiredError(path, error.message, error);
        throw error;
      }
    }, parseLoginTokens);
    this.#tokens = updated!;
    return this.#tokens;
  }

  /**
   * Sets the bearer on each call, and when the relay refuses the token on a unary call
   * (expired by the relay's clock, say) refreshes once and retries. Streams cannot be
   * replayed; they are normally preceded by a unary call that refreshed already.
   */
  interceptor(): Interceptor {
    return (next) => async (req) => {
      const sent = await this.accessToken();
      req.header.set("authorization", `Bearer ${sent}`);
      try {
        return await next(req);
      } catch (error) {
        if (req.stream || !isConnectError(error) || error.code !== ConnectCode.Unauthenticated) {
          throw error;
        }
        if (this.#tokens.access_token === sent) await this.refresh();
        req.header.set("authorization", `Bearer ${this.#tokens.access_token}`);
        return await next(req);
      }
    };
  }
}
