/** createRelayRoutes: every relay service registered on one Connect router. */
import type { ConnectRouter } from "@connectrpc/connect";
import type { AccessTokenResolver } from "./auth.ts";
import type { RelayDeps } from "./deps.ts";
import { registerAgentService } from "./services/agent_service.ts";
import { registerAuditService } from "./services/audit_service.ts";
import { registerHealthService } from "./services/health_service.ts";
import { registerReflectionService } from "./services/reflection_service.ts";
import { registerMachineService } from "./services/machine_service.ts";
import { registerRecordingService } from "./services/recording_service.ts";
import { createSessionCalls, registerSessionService } from "./services/session_service.ts";
import { registerShareService } from "./services/share_service.ts";
import {
  registerWorkspaceService,
  type UserWorkspaceLister,
} from "./services/workspace_service.ts";

/** Optional parts that come with user login. */
export interface LoginHooks {
  resolveAccessToken: AccessTokenResolver;
  listUserWorkspaces: UserWorkspaceLister;
}

/**
 * Returns a function that registers all services on a router. Every router it registers on
 * shares `sessions` (the terminals read-only links watch, the count of open sessions).
 *
 * @example
 * ```ts
 * const router = createConnectRouter();
 * createRelayRoutes(deps)(router);
 * ```
 */
export function createRelayRoutes(
  deps: RelayDeps,
  login?: LoginHooks,
  sessions = createSessionCalls(deps, login?.resolveAccessToken),
): (router: ConnectRouter) => void {
  return (router) => {
    const resolve = login?.resolveAccessToken;
    registerAgentService(router, deps);
    registerHealthService(router, deps);
    registerReflectionService(router);
    registerMachineService(router, deps, resolve);
    registerSessionService(router, deps, resolve, sessions);
    registerShareService(router, deps, resolve);
    registerWorkspaceService(router, deps, resolve, login?.listUserWorkspaces);
    registerAuditService(router, deps, resolve);
    registerRecordingService(router, deps, resolve);
  };
}
