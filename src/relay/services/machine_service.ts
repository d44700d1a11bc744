/** MachineService: the workspace's machine inventory, and unlocking password-protected machines. */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { type Machine, MachineSchema, MachineService } from "../../../gen/cmdop/v1/machine_pb.ts";
import {
  type AccessTokenResolver,
  authenticateClient,
  authenticateMember,
  machineForPrincipal,
  principalReaches,
} from "../auth.ts";
import type { Presence } from "../bus/bus.ts";
import { actorOf, peerOf } from "../audit/audit_log.ts";
import type { RelayDeps } from "../deps.ts";
import { unlockMachine } from "../machine_access.ts";
import type { MachineRecord } from "../store/store.ts";

/** Registers the client-facing machine service. */
export function registerMachineService(
  router: ConnectRouter,
  deps: RelayDeps,
  resolveAccessToken?: AccessTokenResolver,
): void {
  router.service(MachineService, {
    async listMachines(req, ctx) {
      const principal = await authenticateClient(deps, ctx.requestHeader, resolveAccessToken);
      // A share link sees its one machine; a machine acting as a client, those in its reach.
      const machines = (await deps.store.listMachines(principal.workspaceId))
        .filter((m) => principalReaches(principal, m));
      const presence = await deps.bus.presence(machines.map((m) => m.id));
      const workspace = await deps.store.workspaceById(principal.workspaceId);
      const listed = machines.map((m) => toMachineMessage(m, presence.get(m.id)));
      return {
        machines: req.onlineOnly ? listed.filter((m) => m.online) : listed,
        workspaceId: principal.workspaceId,
        workspaceName: workspace?.name ?? "",
      };
    },

    async unlockMachine(req, ctx) {
      const principal = await authenticateClient(deps, ctx.requestHeader, resolveAccessToken);
      const machine = await machineForPrincipal(deps, principal, req.machineId);
      const source = ctx.requestHeader.get("cmdop-peer") ?? "unknown";
      const { token, expiresMs } = await unlockMachine(
        deps,
        deps.passwordLimiters,
        machine,
        req.password,
        source,
        actorOf(principal),
      );
      return { machineToken: token, expiresMs: BigInt(expiresMs) };
    },

    async removeMachine(req, ctx) {
      const principal = await authenticateMember(
        deps,
        ctx.requestHeader,
        "remove machines",
        resolveAccessToken,
      );
      const machine = await machineForPrincipal(deps, principal, req.machineId);
      // The same removal as `cmdop relay machine remove`: credential, shares and tokens go;
      // its control stream and sessions see it at their next check.
      if (!(await deps.store.deleteMachine(principal.workspaceId, machine.id))) {
        throw new ConnectError(`machine "${req.machineId}" not found`, Code.NotFound);
      }
      deps.log(
        `machine ${machine.id} (${machine.hostname}) removed by a workspace member (${principal.via})`,
      );
      deps.audit.record({
        workspaceId: principal.workspaceId,
        kind: "machine.removed",
        actor: actorOf(principal),
        peer: peerOf(ctx.requestHeader),
        machine,
      });
      return {};
    },
  });
}

/** A stored machine plus its live presence, as clients see it. */
export function toMachineMessage(machine: MachineRecord, presence?: Presence): Machine {
  const lastSeen = Math.max(machine.lastSeenMs, presence?.lastSeenMs ?? 0);
  return create(MachineSchema, {
    id: machine.id,
    hostname: machine.hostname,
    displayName: machine.displayName,
    online: presence?.online ?? false,
    lastHeartbeatMs: BigInt(lastSeen),
    os: machine.os,
    arch: machine.arch,
    hasPassword: machine.passwordHash !== null,
    createdMs: BigInt(machine.createdMs),
    agentVersion: machine.agentVersion,
    labels: machine.labels,
  });
}
