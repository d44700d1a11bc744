/** The relay's plain HTTP pages for operators: /healthz (alive), /readyz (store and bus answer), /metrics (Prometheus). */
import type { Bus } from "../bus/bus.ts";
import type { Store } from "../store/store.ts";
import type { RelayMetrics } from "./metrics.ts";

/** How long /readyz waits for each backend: a load balancer's probe must get an answer. */
const READY_TIMEOUT_MS = 2_000;

/** What the pages read. */
export interface ObserveDeps {
  store: Store;
  bus: Bus;
  metrics: RelayMetrics;
}

/**
 * Answers `/healthz`, `/readyz` and `/metrics`; `undefined` for any other path.
 * `/readyz` is 200 `ready` when the store and the bus each answered within 2 s,
 * else 503 with one line per backend that did not, naming the backend and why.
 *
 * @example
 * ```ts
 * const page = await observePage(path, { store, bus, metrics });
 * if (page) return page;
 * ```
 */
export async function observePage(
  path: string,
  deps: ObserveDeps,
): Promise<Response | undefined> {
  if (path === "/healthz") return text(200, "ok\n");
  if (path === "/readyz") {
    const problems = await readinessProblems(deps);
    return problems.length === 0
      ? text(200, "ready\n")
      : text(503, `not ready\n${problems.join("\n")}\n`);
  }
  if (path === "/metrics") {
    const body = await deps.metrics.registry.metrics();
    return new Response(body, {
      headers: { "content-type": deps.metrics.registry.contentType, "cache-control": "no-store" },
    });
  }
  return undefined;
}

/**
 * What keeps the relay from serving: one `NAME: reason` per backend (store, bus) that did
 * not answer within 2 s; empty when ready. Shared by /readyz and grpc.health.v1.
 *
 * @example
 * ```ts
 * const problems = await readinessProblems({ store, bus });
 * ```
 */
export async function readinessProblems(
  deps: Pick<ObserveDeps, "store" | "bus">,
): Promise<string[]> {
  const problems = await Promise.all([
    check("store", () => deps.store.ping()),
    check("bus", () => deps.bus.ping()),
  ]);
  return problems.filter((p) => p !== undefined);
}

/** `undefined` when `ping` resolved in time, else `NAME: reason`. */
async function check(name: string, ping: () => Promise<void>): Promise<string | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${READY_TIMEOUT_MS} ms`)),
      READY_TIMEOUT_MS,
    );
  });
  const pinged = Promise.resolve().then(ping);
  // A ping that loses the race still settles later: observed, so it is never unhandled.
  pinged.catch(() => {});
  try {
    await Promise.race([pinged, timeout]);
    return undefined;
  } catch (error) {
    return `${name}: ${(error as Error).message ?? String(error)}`;
  } finally {
    clearTimeout(timer);
  }
}

function text(status: number, body: string): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" },
  });
}
