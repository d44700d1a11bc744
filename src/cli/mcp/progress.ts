/** progressOf: a tool call's MCP progress notifications, which a tool waits for before its result. */
import type { Extra } from "./sdk.ts";

/** A call's progress reports, and a way to wait until each one was written. */
export interface Progress {
  (progress: number, total: number | undefined, message: string): void;
  /** Resolves once every report made so far is written: a result must not overtake them. */
  sent(): Promise<void>;
}

/**
 * Sends progress notifications when the client asked for them (a progress token), else nothing.
 * A client drops progress that arrives after its call's result, and the SDK may write a
 * notification some turns after it was asked to: so a tool awaits `sent()` before it returns.
 */
export function progressOf(extra: Extra): Progress {
  const progressToken = extra._meta?.progressToken;
  const pending = new Set<Promise<void>>();
  const report = (progress: number, total: number | undefined, message: string) => {
    if (progressToken === undefined) return;
    const sending = extra.sendNotification({
      method: "notifications/progress",
      params: { progressToken, progress, ...(total ? { total } : {}), message },
    }).catch(() => {}).finally(() => pending.delete(sending));
    pending.add(sending);
  };
  return Object.assign(report, {
    sent: async () => void await Promise.all([...pending]),
  });
}
