/** ShareService: minting, listing and revoking share links for one machine each. */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { type Share, ShareSchema, ShareService } from "../../../gen/cmdop/v1/share_pb.ts";
import { hashSecret, newId, newSecret } from "../../lib/secrets.ts";
import {
  type AccessTokenResolver,
  authenticateMember,
  type ClientPrincipal,
  machineForPrincipal,
  ownerOf,
  SecretPrefix,
} from "../auth.ts";
import type { RelayDeps } from "../deps.ts";
import type { ShareRecord } from "../store/store.ts";
import { actorOf, peerOf } from "../audit/audit_log.ts";

const HOUR_MS = 3_600_000;
/** Ten years: longer TTLs are a typo, not a plan (0 means never). */
const MAX_TTL_HOURS = 24 * 365 * 10;

/** Registers the share service. */
export function registerShareService(
  router: ConnectRouter,
  deps: RelayDeps,
  resolveAccessToken?: AccessTokenResolver,
): void {
  const workspacePrincipal = (header: Headers): Promise<ClientPrincipal> =>
    authenticateMember(deps, header, "manage shares", resolveAccessToken);

  router.service(ShareService, {
    async createShare(req, ctx) {
      const principal = await workspacePrincipal(ctx.requestHeader);
      const machine = await machineForPrincipal(deps, principal, req.machineId);
      if (req.ttlHours > MAX_TTL_HOURS) {
        throw new ConnectError(`TTL must be at most ${MAX_TTL_HOURS}h`, Code.InvalidArgument);
      }
      const token = newSecret(SecretPrefix.shareToken);
      const now = deps.now();
      const record: ShareRecord = {
        id: newId(),
        workspaceId: principal.workspaceId,
        machineId: machine.id,
        tokenHash: await hashSecret(token),
        createdMs: now,
        // Absolute from creation: nothing later moves it.
        expiresMs: req.ttlHours === 0 ? 0 : now + req.ttlHours * HOUR_MS,
        revokedMs: null,
        readOnly: req.readOnly,
        owner: ownerOf(principal) ?? "",
      };
      await deps.store.insertShare(record);
      deps.audit.record({
        workspaceId: principal.workspaceId,
        kind: "share.created",
        actor: actorOf(principal),
        peer: peerOf(ctx.requestHeader),
        machine,
        detail: {
          share_id: record.id,
          expires_ms: record.expiresMs,
          ...(record.readOnly ? { read_only: true } : {}),
        },
      });
      return {
        share: toShareMessage(record, machine.hostname),
        token,
        link: `${deps.publicUrl.replace(/\/+$/, "")}/s/${token}`,
      };
    },

    async listShares(_req, ctx) {
      const principal = await workspacePrincipal(ctx.requestHeader);
      const shares = await deps.store.listShares(principal.workspaceId);
      const machines = new Map(
        (await deps.store.listMachines(principal.workspaceId)).map((m) => [m.id, m.hostname]),
      );
      return { shares: shares.map((s) => toShareMessage(s, machines.get(s.machineId) ?? "")) };
    },

    async revokeShare(req, ctx) {
      const principal = await workspacePrincipal(ctx.requestHeader);
      // The audit row names the machine the link was for.
      const share = (await deps.store.listShares(principal.workspaceId))
        .find((s) => s.id === req.shareId);
      const revoked = share &&
        await deps.store.revokeShare(principal.workspaceId, req.shareId, deps.now());
      if (!revoked) throw new ConnectError(`share "${req.shareId}" not found`, Code.NotFound);
      const machine = await deps.store.machineById(share.machineId);
      deps.audit.record({
        workspaceId: principal.workspaceId,
        kind: "share.revoked",
        actor: actorOf(principal),
        peer: peerOf(ctx.requestHeader),
        machine,
        detail: { share_id: req.shareId },
      });
      return {};
    },
  });
}

function toShareMessage(share: ShareRecord, hostname: string): Share {
  return create(ShareSchema, {
    id: share.id,
    machineId: share.machineId,
    machineHostname: hostname,
    createdMs: BigInt(share.createdMs),
    expiresMs: BigInt(share.expiresMs),
    revoked: share.revokedMs !== null,
    readOnly: share.readOnly,
  });
}
