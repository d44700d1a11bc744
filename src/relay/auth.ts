/** Who is calling: turns the Authorization header into a client principal or an agent's machine. */
import { Code, ConnectError } from "@connectrpc/connect";
import { constantTimeEqual, hashSecret } from "../lib/secrets.ts";
import type { RelayDeps } from "./deps.ts";
import { type ClientPrincipal, SecretPrefix } from "./principal.ts";

export { type ClientPrincipal, SecretPrefix } from "./principal.ts";
import { admitMachineClient, machineReachable } from "./machine_clients.ts";
import type { MachineRecord } from "./store/store.ts";

/** Resolves the bearer of a login access token; provided by the login service when present. */
export type AccessTokenResolver = (
  token: string,
  workspaceHint: string | null,
) => Promise<ClientPrincipal>;

/** Extracts the bearer token, or throws Unauthenticated. */
export function bearerToken(header: Headers): string {
  const value = header.get("authorization") ?? "";
  const match = /^Bearer\s+(\S+)$/i.exec(value);
  if (!match) {
    throw new ConnectError("missing credential (Authorization: Bearer …)", Code.Unauthenticated);
  }
  return match[1];
}

/**
 * Authenticates a client call: API key, share token, a machine credential of a machine
 * its workspace lets act as a client, or (with a resolver) a login access token.
 *
 * @example
 * ```ts
 * const principal = await authenticateClient(deps, ctx.requestHeader);
 * ```
 */
export async function authenticateClient(
  deps: RelayDeps,
  header: Headers,
  resolveAccessToken?: AccessTokenResolver,
): Promise<ClientPrincipal> {
  const token = bearerToken(header);
  const prefix = token.split("_", 1)[0];
  if (prefix === SecretPrefix.apiKey) {
    const keyHash = await hashSecret(token);
    const workspaceId = await deps.store.workspaceIdByApiKey(keyHash);
    if (!workspaceId) throw new ConnectError("API key is not valid", Code.Unauthenticated);
    return { kind: "workspace", workspaceId, via: "api_key", keyId: keyHash.slice(0, 12) };
  }
  if (prefix === SecretPrefix.shareToken) {
    const share = await deps.store.shareByToken(await hashSecret(token));
    if (!share) throw new ConnectError("share link is not valid", Code.Unauthenticated);
    if (share.revokedMs !== null) {
      throw new ConnectError("share link was revoked", Code.Unauthenticated);
    }
    if (share.expiresMs !== 0 && deps.now() >= share.expiresMs) {
      throw new ConnectError(
        `share link expired at ${new Date(share.expiresMs).toISOString()}`,
        Code.Unauthenticated,
      );
    }
    return {
      kind: "share",
      workspaceId: share.workspaceId,
      machineId: share.machineId,
      shareId: share.id,
      readOnly: share.readOnly,
      owner: share.owner,
    };
  }
  if (prefix === SecretPrefix.machineSecret) {
    const machine = await machineByCredential(deps, token);
    const reach = await admitMachineClient(deps.store, machine);
    return {
      kind: "machine",
      workspaceId: machine.workspaceId,
      machineId: machine.id,
      hostname: machine.hostname,
      reach,
    };
  }
  if (prefix === SecretPrefix.accessToken && resolveAccessToken) {
    return await resolveAccessToken(token, header.get("cmdop-workspace"));
  }
  throw new ConnectError("credential is not valid", Code.Unauthenticated);
}

/**
 * Who a workspace member is, as a share link's owner: the API key (by its fingerprint) or
 * the signed-in user. A read-only link watches the terminals its owner opens.
 *
 * @example
 * ```ts
 * ownerOf({ kind: "workspace", workspaceId: "w", via: "api_key", keyId: "3f9a0c21b7de" }); // "api_key:3f9a0c21b7de"
 * ```
 */
export function ownerOf(principal: ClientPrincipal): string | undefined {
  if (principal.kind !== "workspace") return undefined;
  return principal.via === "login_token"
    ? `user:${principal.userId ?? ""}`
    : `api_key:${principal.keyId ?? ""}`;
}

/**
 * Names the principal as a whole: the same key, user, share link or calling machine gives
 * the same name. A kept terminal is resumed only under the name that opened it.
 *
 * @example
 * ```ts
 * principalKey({ kind: "share", shareId: "…", … }); // "share:…"
 * ```
 */
export function principalKey(principal: ClientPrincipal): string {
  if (principal.kind === "share") return `share:${principal.shareId}`;
  if (principal.kind === "machine") return `machine:${principal.machineId}`;
  return ownerOf(principal)!;
}

/** Authenticates an agent by its machine credential `cmm_<machine id>.<secret>`. */
export async function authenticateAgent(deps: RelayDeps, header: Headers): Promise<MachineRecord> {
  return await machineByCredential(deps, bearerToken(header));
}

/** The machine whose credential `cmm_<machine id>.<secret>` this is; Unauthenticated otherwise. */
async function machineByCredential(deps: RelayDeps, token: string): Promise<MachineRecord> {
  const match = /^cmm_([0-9a-f-]{36})\.(.+)$/.exec(token);
  if (!match) throw new ConnectError("machine credential is not valid", Code.Unauthenticated);
  const machine = await deps.store.machineById(match[1]);
  if (!machine || !constantTimeEqual(machine.secretHash, await hashSecret(match[2]))) {
    throw new ConnectError("machine credential is not valid", Code.Unauthenticated);
  }
  return machine;
}

/**
 * Whether the principal may see and reach `machine`: any machine of its workspace, the
 * one machine of a share link, or those a machine client's reach selectors match.
 *
 * @example
 * ```ts
 * const listed = machines.filter((m) => principalReaches(principal, m));
 * ```
 */
export function principalReaches(principal: ClientPrincipal, machine: MachineRecord): boolean {
  if (machine.workspaceId !== principal.workspaceId) return false;
  if (principal.kind === "share") return principal.machineId === machine.id;
  if (principal.kind === "machine") return machineReachable(machine.labels, principal.reach);
  return true;
}

/**
 * Loads a machine the principal may reach; NotFound otherwise, so that other
 * workspaces' machines, and those out of a machine client's reach, are
 * indistinguishable from missing ones.
 */
export async function machineForPrincipal(
  deps: RelayDeps,
  principal: ClientPrincipal,
  machineId: string,
): Promise<MachineRecord> {
  const machine = await deps.store.machineById(machineId);
  if (machine === undefined || !principalReaches(principal, machine)) {
    throw new ConnectError(`machine "${machineId}" not found`, Code.NotFound);
  }
  return machine;
}

/**
 * Authenticates a workspace member (an API key or a login token): a share link reaches
 * one machine and a machine credential may only list and reach machines, so neither may
 * manage the workspace; they get PermissionDenied naming `what`.
 *
 * @example
 * ```ts
 * const principal = await authenticateMember(deps, ctx.requestHeader, "revoke API keys");
 * ```
 */
export async function authenticateMember(
  deps: RelayDeps,
  header: Headers,
  what: string,
  resolveAccessToken?: AccessTokenResolver,
): Promise<Extract<ClientPrincipal, { kind: "workspace" }>> {
  const principal = await authenticateClient(deps, header, resolveAccessToken);
  if (principal.kind !== "workspace") {
    const who = principal.kind === "share" ? "a share link" : "a machine credential";
    throw new ConnectError(`${who} cannot ${what}`, Code.PermissionDenied);
  }
  return principal;
}
