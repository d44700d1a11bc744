/** The share link's page: `GET /s/<token>` in a browser is the machine's terminal (xterm.js), `/s/assets/*` its static files; a strict CSP, no inline script. */
import { Code, ConnectError } from "@connectrpc/connect";
import { authenticateClient } from "../auth.ts";
import type { RelayDeps } from "../deps.ts";

/** The page's static files, under the link's own prefix (the relay may sit under a path). */
const ASSET_PREFIX = "/s/assets/";
const TOKEN_PATH = /^\/s\/(cms_[A-Za-z0-9_-]{1,128})\/?$/;

/**
 * The page's Content-Security-Policy. Scripts and stylesheets come from the relay only (no
 * inline script, no eval); the one exception is `<style>` elements carrying this response's
 * nonce: xterm.js writes part of its CSS (cell size, colours, scrollbar) into style elements
 * it creates, and the page's script gives each of them the nonce. Calls go to the relay only
 * (`connect-src 'self'`); no frames, forms, plugins or base URL changes.
 */
export function sharePageCsp(nonce: string): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    `style-src 'self' 'nonce-${nonce}'`,
    "connect-src 'self'",
    "img-src 'self'",
    "font-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join("; ");
}

/** Headers of every answer under /s/: the link is a secret, kept out of caches and Referer. */
function pageHeaders(type: string, csp: string): Headers {
  return new Headers({
    "content-type": type,
    "content-security-policy": csp,
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
  });
}

/**
 * Answers a request under `/s/`: a static file of the page, the terminal page for a valid
 * link asked for as HTML (a refusal page — 404 unknown, 410 revoked or expired — for
 * others), or the plain-text note for anything else (curl, the CLI's checks).
 *
 * @example
 * ```ts
 * if (path.startsWith("/s/")) return await serveSharePath(deps, request, path);
 * ```
 */
export async function serveSharePath(
  deps: RelayDeps,
  request: Request,
  path: string,
): Promise<Response> {
  if (request.method !== "GET" && request.method !== "HEAD") {
    return new Response("method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
  }
  if (path.startsWith(ASSET_PREFIX)) {
    return await serveAsset(request, path.slice(ASSET_PREFIX.length));
  }
  const wantsHtml = (request.headers.get("accept") ?? "").includes("text/html");
  if (!wantsHtml) return plainNote();
  const match = TOKEN_PATH.exec(path);
  if (!match) {
    return refusal(404, "This is not a share link", "The address is not one of a share link.");
  }
  try {
    const principal = await authenticateClient(
      deps,
      new Headers({ authorization: `Bearer ${match[1]}` }),
    );
    if (principal.kind !== "share") {
      throw new ConnectError("not a share link", Code.Unauthenticated);
    }
  } catch (error) {
    const message = error instanceof ConnectError ? error.rawMessage : "share link is not valid";
    const gone = /revoked|expired/.test(message);
    return refusal(
      gone ? 410 : 404,
      gone ? "This share link has ended" : "This share link is not valid",
      `The relay says: ${message}. Ask whoever shared it for a new link.`,
    );
  }
  const nonce = crypto.randomUUID().replaceAll("-", "");
  return new Response(request.method === "HEAD" ? null : TERMINAL_PAGE(nonce), {
    headers: pageHeaders("text/html; charset=utf-8", sharePageCsp(nonce)),
  });
}

async function serveAsset(request: Request, name: string): Promise<Response> {
  // Loaded only here: ~370 KB of xterm.js that nothing else of the relay or the CLI needs.
  const { WEB_ASSETS } = await import("./assets.generated.ts");
  const asset = Object.hasOwn(WEB_ASSETS, name) ? WEB_ASSETS[name] : undefined;
  if (!asset) return new Response("not found\n", { status: 404 });
  const headers = pageHeaders(asset.type, "default-src 'none'; frame-ancestors 'none'");
  // Nothing secret in them: cached, and checked again on each load (a relay upgrade changes them).
  headers.set("cache-control", "no-cache");
  headers.set("etag", asset.etag);
  if (request.headers.get("if-none-match") === asset.etag) {
    return new Response(null, { status: 304, headers });
  }
  return new Response(request.method === "HEAD" ? null : asset.body, { headers });
}

function plainNote(): Response {
  const body = "This is a cmdop share link. Open it in a browser, or with:\n\n" +
    "  cmdop connect --link-file FILE   (the link in FILE)\n";
  return new Response(body, {
    headers: {
      "content-type": "text/plain; charset=utf-8",
      "referrer-policy": "no-referrer",
      "cache-control": "no-store",
    },
  });
}

function refusal(status: number, title: string, text: string): Response {
  const nonce = crypto.randomUUID().replaceAll("-", "");
  const body = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} — cmdop</title>
<link rel="icon" href="assets/favicon.svg">
<link rel="stylesheet" href="assets/page.css">
</head>
<body data-state="refused">
<main class="message">
<h1>${escapeHtml(title)}</h1>
<p id="status">${escapeHtml(text)}</p>
</main>
</body>
</html>
`;
  return new Response(body, {
    status,
    headers: pageHeaders("text/html; charset=utf-8", sharePageCsp(nonce)),
  });
}

/** The terminal page: no inline script or style; the token stays in the address. */
const TERMINAL_PAGE = (nonce: string) =>
  `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cmdop</title>
<link rel="icon" href="assets/favicon.svg">
<link rel="stylesheet" href="assets/xterm.css">
<link rel="stylesheet" href="assets/page.css" nonce="${nonce}">
<script type="module" src="assets/page.js"></script>
</head>
<body data-state="connecting">
<div id="terminal"></div>
<form id="password" autocomplete="off">
<label for="password-field">Attach password</label>
<input id="password-field" type="password" autocomplete="off">
<button type="submit">Unlock</button>
</form>
<div id="status" role="status">loading…</div>
</body>
</html>
`;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
