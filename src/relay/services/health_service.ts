/** grpc.health.v1.Health: the relay's readiness (store and bus answer) for gRPC-style health checkers, over Connect and gRPC-Web. */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import {
  Health,
  type HealthCheckResponse,
  HealthCheckResponse_ServingStatus as Status,
  HealthCheckResponseSchema,
} from "../../../gen/grpc/health/v1/health_pb.ts";
import type { RelayDeps } from "../deps.ts";
import { readinessProblems } from "../observe/endpoints.ts";

/** How often Watch looks again; a change is sent when seen. */
const WATCH_INTERVAL_MS = 5_000;

/** The services a checker may name: the whole relay (""), or one of its own. */
function known(service: string): boolean {
  return service === "" || /^cmdop\.v1\.[A-Za-z]+Service$/.test(service) ||
    service === "grpc.health.v1.Health" || service === "grpc.reflection.v1.ServerReflection";
}

/**
 * Registers `grpc.health.v1.Health`: SERVING while the store and the bus answer (as
 * /readyz), NOT_SERVING otherwise. No credential is needed, as for /readyz.
 *
 * @example
 * ```ts
 * registerHealthService(router, deps);
 * ```
 */
export function registerHealthService(router: ConnectRouter, deps: RelayDeps): void {
  const status = async (): Promise<HealthCheckResponse> =>
    create(HealthCheckResponseSchema, {
      status: (await readinessProblems(deps)).length === 0 ? Status.SERVING : Status.NOT_SERVING,
    });
  router.service(Health, {
    async check(request) {
      if (!known(request.service)) {
        throw new ConnectError(`unknown service "${request.service}"`, Code.NotFound);
      }
      return await status();
    },
    async *watch(request, ctx) {
      if (!known(request.service)) {
        yield create(HealthCheckResponseSchema, { status: Status.SERVICE_UNKNOWN });
        return;
      }
      let last: Status | undefined;
      while (!ctx.signal.aborted) {
        const now = await status();
        if (now.status !== last) yield now;
        last = now.status;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, WATCH_INTERVAL_MS);
          ctx.signal.addEventListener("abort", () => {
            clearTimeout(timer);
            resolve();
          }, { once: true });
        });
      }
    },
  });
}
