/** The verification page of the device flow, `GET/POST /device`: a person approves or denies a `cmdop login`. */
import type { AttemptRule } from "../rate_limit.ts";
import type { AttemptOutcome } from "../store/store.ts";
import { hashPassword, verifyPassword } from "../passwords.ts";
import { readForm } from "./oauth_endpoints.ts";
import { type LoginContext, OAuthError } from "./tokens.ts";
import { formatUserCode, normaliseUserCode } from "./user_code.ts";

/**
 * Wrong credentials or codes from one address, and against one email, lock out with
 * growing delays; attempts are counted in the store before they are checked.
 */
export interface DevicePageLimiters {
  perSource: AttemptRule;
  perEmail: AttemptRule;
}

/**
 * The page's default lock-out rules.
 *
 * @example
 * ```ts
 * const response = await devicePage(ctx, createDevicePageLimiters(), req, peer);
 * ```
 */
export function createDevicePageLimiters(): DevicePageLimiters {
  return { perSource: { freeFailures: 5 }, perEmail: { freeFailures: 10 } };
}

let dummyHash: Promise<string> | undefined;

/**
 * A bcrypt hash of the same cost as real ones, compared against when the email is
 * unknown, so that a wrong password takes as long for an unknown email as for a known one.
 */
function unknownUserHash(): Promise<string> {
  dummyHash ??= hashPassword(crypto.randomUUID());
  return dummyHash;
}

interface PageState {
  userCode?: string;
  email?: string;
  message?: string;
  done?: boolean;
}

/** Answers `GET /device` with the form, and `POST /device` by approving or denying the code. */
export async function devicePage(
  ctx: LoginContext,
  limiters: DevicePageLimiters,
  req: Request,
  peer: string,
): Promise<Response> {
  if (req.method === "GET" || req.method === "HEAD") {
    const typed = new URL(req.url).searchParams.get("user_code") ?? "";
    return page(200, { userCode: typed });
  }
  if (req.method !== "POST") return new Response("method not allowed\n", { status: 405 });
  let form: URLSearchParams;
  try {
    form = await readForm(req);
  } catch (error) {
    if (error instanceof OAuthError) return page(error.status, { message: error.message });
    throw error;
  }
  const typed = form.get("user_code") ?? "";
  const email = (form.get("email") ?? "").trim().toLowerCase();
  const state: PageState = { userCode: typed, email };
  const store = ctx.deps.store;
  const now = ctx.deps.now();
  const sourceKey = `device|source|${peer}`;
  const emailKey = `device|email|${email}`;
  let waitMs = await store.takeAttempt(sourceKey, limiters.perSource, now);
  if (waitMs === 0 && email) {
    waitMs = await store.takeAttempt(emailKey, limiters.perEmail, now);
    if (waitMs > 0) await store.settleAttempt(sourceKey, "refund");
  }
  if (waitMs > 0) {
    const message = `Too many failed attempts; try again in ${Math.ceil(waitMs / 1000)}s.`;
    return page(429, { ...state, message });
  }
  // The attempt is already counted: a failure only answers, a success settles the count.
  const settle = async (outcome: AttemptOutcome) => {
    await store.settleAttempt(sourceKey, outcome, ctx.deps.now());
    if (email) await store.settleAttempt(emailKey, outcome, ctx.deps.now());
  };
  const failed = async (status: number, message: string) => {
    await settle("failed");
    return page(status, { ...state, message });
  };

  const userCode = normaliseUserCode(typed);
  const record = userCode ? await ctx.store.deviceCodeByUserCode(userCode) : undefined;
  if (!record || record.status !== "pending" || now >= record.expiresMs) {
    return await failed(400, "That code is not valid or has expired. Run cmdop login again.");
  }
  if (form.get("action") === "deny") {
    await settle("refund");
    await ctx.store.updateDeviceCode(record.deviceCodeHash, { status: "denied" });
    return page(200, { done: true, message: "The login was denied. You can close this page." });
  }
  const user = email ? await ctx.store.userByEmail(email) : undefined;
  const hash = user?.passwordHash ?? await unknownUserHash();
  const matches = await verifyPassword(form.get("password") ?? "", hash);
  if (!user || !matches) return await failed(401, "Wrong email or password.");
  await settle("forget");
  await ctx.store.updateDeviceCode(record.deviceCodeHash, { status: "approved", userId: user.id });
  const message =
    `Signed in as ${user.email}. Return to your terminal: cmdop login finishes by itself.`;
  return page(200, { done: true, message });
}

function page(status: number, state: PageState): Response {
  const code = normaliseUserCode(state.userCode ?? "");
  const shownCode = code ? formatUserCode(code) : state.userCode ?? "";
  const form = state.done ? "" : `
  <form method="post" action="/device">
    <label>Code shown by cmdop login
      <input name="user_code" value="${escapeHtml(shownCode)}" autocomplete="off" required></label>
    <label>Email <input name="email" type="email" value="${escapeHtml(state.email ?? "")}"
      autocomplete="username"></label>
    <label>Password <input name="password" type="password" autocomplete="current-password"></label>
    <button name="action" value="approve">Approve</button>
    <button name="action" value="deny" formnovalidate>Deny</button>
  </form>
  <p>Approve only a code you started yourself with <code>cmdop login</code>.</p>`;
  const message = state.message ? `<p role="status">${escapeHtml(state.message)}</p>` : "";
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cmdop login</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}
label{display:block;margin:.75rem 0}input{display:block;width:100%;padding:.4rem}
button{margin:.75rem .5rem 0 0;padding:.4rem 1rem}</style></head>
<body><h1>Sign in to cmdop</h1>${message}${form}</body></html>
`;
  return new Response(html, {
    status,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
      // The page takes a password: nothing may frame it, and it loads nothing from elsewhere.
      "content-security-policy":
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
      "x-frame-options": "DENY",
      "referrer-policy": "no-referrer",
    },
  });
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
