/** Running sessions and control streams end when what admitted them is revoked: a share link, an API key, the machine itself. */
import { Code, ConnectError } from "@connectrpc/connect";
import { hashSecret } from "../lib/secrets.ts";
import { bearerToken, type ClientPrincipal } from "./auth.ts";
import type { RelayDeps } from "./deps.ts";
import { machineClientRevoked } from "./machine_clients.ts";
import type { MachineRecord } from "./store/store.ts";

/** How often a running session looks at its credentials again: revocation on any node reaches it within this. */
export const ACCESS_RECHECK_MS = 2_000;
/**
 * How often an agent's control stream checks that its machine still exists: one store
 * read per agent each time, so ten thousand idle agents cost 1,000 reads a second.
 */
export const CONTROL_RECHECK_MS = 10_000;

/** A running call's view of its access: `signal` aborts, with the reason, when it stops being valid. */
export interface AccessWatch {
  signal: AbortSignal;
  /** Stops watching (the call ended). */
  stop(): void;
}

/**
 * Calls `check` every `recheckMs` (one at a time); the first reason it returns aborts
 * the watch's signal with an Unauthenticated error carrying it. A check that fails (the
 * store briefly unreachable) is logged and tried again at the next tick.
 *
 * @example
 * ```ts
 * const watch = watchAccess(deps, `machine ${id}`, async () =>
 *   (await deps.store.machineById(id)) ? undefined : "machine was removed", 10_000);
 * watch.signal.addEventListener("abort", endStream);
 * ```
 */
export function watchAccess(
  deps: Pick<RelayDeps, "log">,
  label: string,
  check: () => Promise<string | undefined>,
  recheckMs: number,
): AccessWatch {
  const controller = new AbortController();
  let checking = false;
  const timer = setInterval(() => {
    if (checking || controller.signal.aborted) return;
    checking = true;
    check().then((reason) => {
      if (reason === undefined || controller.signal.aborted) return;
      clearInterval(timer);
      deps.log(`${label}: ${reason}; ending it`);
      controller.abort(new ConnectError(reason, Code.Unauthenticated));
    }).catch((error) => {
      deps.log(`${label}: cannot check its access: ${(error as Error).message}`);
    }).finally(() => checking = false);
  }, recheckMs);
  return { signal: controller.signal, stop: () => clearInterval(timer) };
}

/**
 * Watches what let a session in: its share link (revoked, expired or removed), its API
 * key (revoked), the machine acting as its client (removed, relabelled or no longer
 * allowed by its workspace's machine-clients setting), and its machine (removed, or out
 * of that client's reach once relabelled or the setting changed). Each is read again
 * from the store every {@linkcode ACCESS_RECHECK_MS}, so a revocation made on this relay,
 * on another node of a cluster or by `cmdop relay …` on the store itself ends the
 * session too.
 *
 * @example
 * ```ts
 * const watch = await watchSession(deps, principal, ctx.requestHeader, machine.id, "session 3f2a");
 * watch.signal.addEventListener("abort", endSession);
 * ```
 */
export async function watchSession(
  deps: RelayDeps,
  principal: ClientPrincipal,
  header: Headers,
  machineId: string,
  label: string,
  recheckMs = ACCESS_RECHECK_MS,
): Promise<AccessWatch> {
  const bearer = principal.kind === "share" ||
      (principal.kind === "workspace" && principal.via === "api_key")
    ? await hashSecret(bearerToken(header))
    : "";
  const credential = async (machine?: MachineRecord): Promise<string | undefined> => {
    if (principal.kind === "share") {
      const share = await deps.store.shareByToken(bearer);
      if (!share) return "its share link was removed";
      if (share.revokedMs !== null) return "its share link was revoked";
      if (share.expiresMs !== 0 && deps.now() >= share.expiresMs) {
        return `its share link expired at ${new Date(share.expiresMs).toISOString()}`;
      }
    } else if (principal.kind === "machine") {
      return await machineClientRevoked(
        deps.store,
        principal.machineId,
        principal.workspaceId,
        machine,
      );
    } else if (principal.via === "api_key") {
      const workspaceId = await deps.store.workspaceIdByApiKey(bearer);
      if (workspaceId !== principal.workspaceId) return "its API key was revoked";
    }
    return undefined;
  };
  return watchAccess(deps, label, async () => {
    const machine = await deps.store.machineById(machineId);
    const reason = await credential(machine);
    if (reason) return reason;
    return machine?.workspaceId === principal.workspaceId ? undefined : "its machine was removed";
  }, recheckMs);
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
  // One listener per item, removed as the item comes: racing every item against one
  // long-lived promise would keep a reaction per item until the session ends.
  const nextOrAbort = () =>
    new Promise<IteratorResult<T>>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      iterator.next().then(resolve, reject).finally(() =>
        signal.removeEventListener("abort", onAbort)
      );
    });
  try {
    for (;;) {
      const next = await nextOrAbort();
      if (next.done) return;
      yield next.value;
    }
  } finally {
    Promise.resolve(iterator.return?.()).catch(() => {});
  }
}
