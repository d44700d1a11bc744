/** createRelayLogin: user login for a relay — the device flow routes, the /device page and the token resolver. */
import type { RelayDeps } from "../deps.ts";
import type { RelayLogin } from "../server.ts";
import { RequestRateLimiter } from "../rate_limit.ts";
import { createDevicePageLimiters, devicePage } from "./device_page.ts";
import type { LoginStore } from "./login_store.ts";
import { deviceAuthorization, revocationEndpoint, tokenEndpoint } from "./oauth_endpoints.ts";
import {
  createAccessTokenResolver,
  createUserWorkspaceLister,
  type LoginContext,
} from "./tokens.ts";

/** Lifetimes and pacing of logins; every field has a default. */
export interface RelayLoginOptions {
  /** Access tokens: 1 h. */
  accessTtlMs?: number;
  /** Refresh tokens: 30 days, renewed by each refresh. */
  refreshTtlMs?: number;
  /** Seconds a polling `cmdop login` waits between polls: 5. */
  deviceIntervalS?: number;
  /** How long a user code can be approved: 10 min. */
  deviceCodeTtlMs?: number;
  /** Device authorizations one source may start per minute: 10. */
  deviceStartsPerMinute?: number;
  /** Device authorizations the whole relay starts per minute: 600. */
  deviceStartsPerMinuteTotal?: number;
}

const HOUR_MS = 3_600_000;

/**
 * Builds the login part of a relay from its deps; pass the result as
 * `startRelay({ login })`.
 *
 * @example
 * ```ts
 * const relay = await startRelay({ hostname, port, store, login: createRelayLogin(logins) });
 * ```
 */
export function createRelayLogin(
  store: LoginStore,
  options: RelayLoginOptions = {},
): (deps: RelayDeps) => RelayLogin {
  return (deps) => {
    const ctx: LoginContext = {
      deps,
      store,
      accessTtlMs: options.accessTtlMs ?? HOUR_MS,
      refreshTtlMs: options.refreshTtlMs ?? 30 * 24 * HOUR_MS,
    };
    const flow = {
      intervalS: options.deviceIntervalS ?? 5,
      deviceCodeTtlMs: options.deviceCodeTtlMs ?? 10 * 60_000,
    };
    const limiters = createDevicePageLimiters();
    // Anyone may start a device authorization, and each one is a row: a bound per source
    // and one for the relay (many sources) keep a flood from filling the store.
    const starts = {
      perSource: new RequestRateLimiter({
        now: deps.now,
        limit: options.deviceStartsPerMinute ?? 10,
        windowMs: 60_000,
      }),
      total: new RequestRateLimiter({
        now: deps.now,
        limit: options.deviceStartsPerMinuteTotal ?? 600,
        windowMs: 60_000,
      }),
    };
    return {
      resolveAccessToken: createAccessTokenResolver(ctx),
      listUserWorkspaces: createUserWorkspaceLister(ctx),
      async handleHttp(req, { peer }) {
        const path = new URL(req.url).pathname;
        if (path === "/device") return await devicePage(ctx, limiters, req, peer);
        if (!path.startsWith("/oauth/")) return undefined;
        if (req.method !== "POST") {
          return new Response("method not allowed\n", { status: 405, headers: { allow: "POST" } });
        }
        if (path === "/oauth/device_authorization") {
          const waitMs = starts.perSource.retryAfterMs(peer) || starts.total.retryAfterMs("*");
          if (waitMs > 0) return tooManyStarts(waitMs);
          return await deviceAuthorization(ctx, flow, req);
        }
        if (path === "/oauth/token") return await tokenEndpoint(ctx, req, peer);
        if (path === "/oauth/revoke") return await revocationEndpoint(ctx, req, peer);
        return undefined;
      },
    };
  };
}

function tooManyStarts(waitMs: number): Response {
  const seconds = Math.ceil(waitMs / 1000);
  const body = {
    error: "slow_down",
    error_description: `too many logins started from here; try again in ${seconds}s`,
  };
  return new Response(JSON.stringify(body), {
    status: 429,
    headers: {
      "content-type": "application/json",
      "cache-control": "no-store",
      "retry-after": String(seconds),
    },
  });
}
