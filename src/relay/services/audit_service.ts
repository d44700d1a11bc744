/** AuditService: a workspace's audit events, for its members; the relay serves no way to change or delete one. */
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { AuditService } from "../../../gen/cmdop/v1/audit_pb.ts";
import { type AccessTokenResolver, authenticateMember } from "../auth.ts";
import type { RelayDeps } from "../deps.ts";
import { MAX_PAGE } from "../audit/audit_events.ts";

/** Registers the audit service. */
export function registerAuditService(
  router: ConnectRouter,
  deps: RelayDeps,
  resolveAccessToken?: AccessTokenResolver,
): void {
  router.service(AuditService, {
    async listEvents(req, ctx) {
      const principal = await authenticateMember(
        deps,
        ctx.requestHeader,
        "read the audit log",
        resolveAccessToken,
      );
      const limit = Math.min(req.limit || MAX_PAGE, MAX_PAGE);
      // The workspace comes from the credential, never from the request.
      const events = await deps.audit.list({
        workspaceId: principal.workspaceId,
        sinceMs: Number(req.sinceMs),
        machine: req.machine.trim() || undefined,
        after: parsePageToken(req.pageToken),
        limit,
      });
      const last = events.at(-1);
      return {
        events: events.map((e) => ({
          seq: BigInt(e.seq),
          timeMs: BigInt(e.timeMs),
          kind: e.kind,
          actorKind: e.actorKind,
          actorId: e.actorId,
          peer: e.peer,
          machineId: e.machineId,
          machineName: e.machineName,
          detailJson: JSON.stringify(e.detail),
        })),
        nextPageToken: last && events.length === limit ? `${last.timeMs}.${last.seq}` : "",
      };
    },
  });
}

/** `TIME.SEQ` of the last event of the previous page. */
function parsePageToken(token: string): { timeMs: number; seq: number } | undefined {
  if (!token) return undefined;
  const match = /^(\d{1,16})\.(\d{1,16})$/.exec(token);
  if (!match) throw new ConnectError(`page token "${token}" is not valid`, Code.InvalidArgument);
  return { timeMs: Number(match[1]), seq: Number(match[2]) };
}
