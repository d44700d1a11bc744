/** installLastResort: keeps a long-running process (relay, agent) serving after a bug lets an error escape, and says so loudly. */
import { describeError } from "./supervise.ts";

/**
 * Handles what nothing else did: an unobserved promise rejection or an
 * uncaught exception. Deno ends the process on either, which for a relay
 * cuts off every agent and user because of one connection. Each is logged as
 * a bug, with its stack, and the process goes on serving. Every task is still
 * meant to be supervised (see `supervise.ts`); this is the net under them.
 * Returns a function that removes the handlers.
 *
 * @example
 * ```ts
 * const uninstall = installLastResort("relay", log);
 * ```
 */
export function installLastResort(what: string, log: (message: string) => void): () => void {
  let reported = 0;
  const report = (kind: string, error: unknown) => {
    reported++;
    const stack = error instanceof Error && error.stack ? `\n${error.stack}` : "";
    log(
      `BUG: ${kind} (${reported} so far); the ${what} keeps running: ${
        describeError(error)
      }${stack}`,
    );
  };
  const onRejection = (event: PromiseRejectionEvent) => {
    event.preventDefault();
    report("unobserved promise rejection", event.reason);
  };
  const onError = (event: ErrorEvent) => {
    event.preventDefault();
    report("uncaught exception", event.error ?? event.message);
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  globalThis.addEventListener("error", onError);
  return () => {
    globalThis.removeEventListener("unhandledrejection", onRejection);
    globalThis.removeEventListener("error", onError);
  };
}
