/** Sessions opened through a share link end when the link is revoked or expires, not only new ones are refused. */
import { Code, ConnectError } from "@connectrpc/connect";
import { hashSecret } from "../lib/secrets.ts";
import { bearerToken, type ClientPrincipal } from "./auth.ts";
import type { RelayDeps } from "./deps.ts";

/** How often a running share session looks at its link again: revocation on any node reaches it within this. */
export const SHARE_RECHECK_MS = 2_000;

/** A running session's view of its share link: `signal` aborts, with the reason, when the link stops being valid. */
export interface ShareWatch {
  signal: AbortSignal;
  /** Stops watching (the session ended). */
  stop(): void;
}

/**
 * Watches the share link a session was opened with: a timer fires at its expiry, and the
 * link is read again from the store every {@linkcode SHARE_RECHECK_MS}, so a revocation
 * made on this relay or on another node of a cluster ends the session too. For other
 * principals, `undefined`.
 *
 * @example
 * ```ts
 * const watch = await watchShare(deps, principal, ctx.requestHeader);
 * watch?.signal.addEventListener("abort", endSession);
 * ```
 */
export async function watchShare(
  deps: RelayDeps,
  principal: ClientPrincipal,
  header: Headers,
  recheckMs = SHARE_RECHECK_MS,
): Promise<ShareWatch | undefined> {
  if (principal.kind !== "share") return undefined;
  const tokenHash = await hashSecret(bearerToken(header));
  const controller = new AbortController();
  const end = (message: string) => {
    if (controller.signal.aborted) return;
    deps.log(`share ${principal.shareId}: ${message}; ending its session`);
    controller.abort(new ConnectError(message, Code.Unauthenticated));
  };
  const check = async () => {
    const share = await deps.store.shareByToken(tokenHash);
    if (!share) end("share link was removed");
    else if (share.revokedMs !== null) end("share link was revoked");
    else if (share.expiresMs !== 0 && deps.now() >= share.expiresMs) {
      end(`share link expired at ${new Date(share.expiresMs).toISOString()}`);
    }
  };
  let checking = false;
  const timer = setInterval(() => {
    if (checking) return;
    checking = true;
    check().catch((error) => {
      // The store may be briefly unreachable: the next check tries again.
      deps.log(`share ${principal.shareId}: cannot check the link: ${(error as Error).message}`);
    }).finally(() => checking = false);
  }, recheckMs);
  return {
    signal: controller.signal,
    stop: () => clearInterval(timer),
  };
}

/**
 * Yields `source` until `signal` aborts, then throws its reason at once, without waiting
 * for the source's next item.
 *
 * @example
 * ```ts
 * for await (const frame of untilAborted(dialed.frames, watch.signal)) yield frame;
 * ```
 */
export async function* untilAborted<T>(
  source: AsyncIterable<T>,
  signal: AbortSignal,
): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  const aborted = new Promise<never>((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
  aborted.catch(() => {});
  try {
    for (;;) {
      const next = await Promise.race([iterator.next(), aborted]);
      if (next.done) return;
      yield next.value;
    }
  } finally {
    Promise.resolve(iterator.return?.()).catch(() => {});
  }
}
