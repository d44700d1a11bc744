/** `cmdop relay key …`, `relay enroll-token …`, `relay machine remove`: the operator lists, mints and revokes a workspace's credentials and machines. */
import type { CliContext } from "../../context.ts";
import { CliError } from "../../errors.ts";
import type { Store } from "../../../relay/store/store.ts";
import type { AuditStore } from "../../../relay/audit/audit_events.ts";
import type { RelayBackends } from "./backends.ts";

/** Where the store is and which workspace the verb acts in. */
export interface WorkspaceStoreOptions {
  workspace: string;
  data?: string;
  store?: string;
  json: boolean;
}

/** Records an operator's change in the workspace's audit log. */
export type OperatorAudit = (
  kind: string,
  detail?: Record<string, unknown>,
  machine?: { id: string; hostname: string },
) => Promise<void>;

/**
 * Opens the operator's store and finds the workspace by name, then runs `work`, which
 * may record what it changed in the workspace's audit log.
 */
export async function inWorkspace<T>(
  ctx: CliContext,
  options: WorkspaceStoreOptions,
  work: (
    store: Store,
    workspaceId: string,
    audit: OperatorAudit,
    backends: RelayBackends,
  ) => Promise<T>,
): Promise<T> {
  const { openOperatorStore } = await import("./backends.ts");
  const backends = await openOperatorStore(ctx, options);
  const { store, audit } = backends;
  try {
    const workspace = await store.workspaceByName(options.workspace);
    if (!workspace) {
      throw new CliError(`workspace "${options.workspace}" does not exist in this relay's store`);
    }
    return await work(store, workspace.id, operatorAudit(ctx, audit, workspace.id), backends);
  } finally {
    await store.close();
  }
}

/**
 * Lists the workspace's API keys and enroll tokens by fingerprint (the first 12 hex
 * digits of the secret's SHA-256), never the secrets: what `revoke` takes.
 *
 * @example
 * ```ts
 * await runCredentialList(ctx, { workspace: "prod", data: "/var/lib/cmdop", json: false });
 * ```
 */
export async function runCredentialList(
  ctx: CliContext,
  options: WorkspaceStoreOptions,
): Promise<void> {
  const listed = await inWorkspace(ctx, options, (store, id) => store.listCredentials(id));
  const rows = listed.map((c) => ({
    kind: c.kind,
    fingerprint: c.fingerprint,
    created_at: new Date(c.createdMs).toISOString(),
    expires_at: c.expiresMs === 0 ? null : new Date(c.expiresMs).toISOString(),
    expired: c.expiresMs !== 0 && c.expiresMs <= ctx.now(),
  }));
  if (options.json) {
    await ctx.stdout.write(JSON.stringify(rows) + "\n");
    return;
  }
  const lines = rows.map((r) =>
    `${r.kind.padEnd(13)} ${r.fingerprint}  created ${r.created_at}  ` +
    (r.expires_at ? `${r.expired ? "expired" : "expires"} ${r.expires_at}` : "never expires")
  );
  await ctx.stdout.write(lines.length ? lines.join("\n") + "\n" : "no API keys or enroll tokens\n");
}

/**
 * Mints an API key or an enroll token (optionally expiring) and prints it once.
 *
 * @example
 * ```ts
 * await runCredentialCreate(ctx, "enroll_token", { workspace: "prod", data: dir, json: true, ttlMs: 3_600_000 });
 * ```
 */
export async function runCredentialCreate(
  ctx: CliContext,
  kind: "api_key" | "enroll_token",
  options: WorkspaceStoreOptions & { ttlMs?: number },
): Promise<void> {
  const { hashSecret, newSecret } = await import("../../../lib/secrets.ts");
  const { SecretPrefix } = await import("../../../relay/auth.ts");
  const now = ctx.now();
  const expiresMs = options.ttlMs ? now + options.ttlMs : 0;
  const secret = newSecret(kind === "api_key" ? SecretPrefix.apiKey : SecretPrefix.enrollToken);
  const hash = await hashSecret(secret);
  await inWorkspace(ctx, options, async (store, id, audit) => {
    if (kind === "api_key") await store.insertApiKey(id, hash, now);
    else await store.insertEnrollToken(id, hash, now, expiresMs);
    await audit(kind === "api_key" ? "key.created" : "enroll_token.created", {
      fingerprint: hash.slice(0, 12),
      expires_ms: expiresMs || undefined,
    });
  });
  const expiresAt = expiresMs ? new Date(expiresMs).toISOString() : null;
  if (options.json) {
    await ctx.stdout.write(
      JSON.stringify({ [kind]: secret, fingerprint: hash.slice(0, 12), expires_at: expiresAt }) +
        "\n",
    );
    return;
  }
  await ctx.stdout.write(
    `${secret}\n`,
  );
  await ctx.stderr.write(
    `${kind === "api_key" ? "API key" : "enroll token"} ${hash.slice(0, 12)} created` +
      `${expiresAt ? `, expires ${expiresAt}` : ""}; it is shown once, the relay keeps its hash\n`,
  );
}

/**
 * Revokes the workspace's API key or enroll token with this fingerprint (8 or more hex
 * digits, as `list` shows): calls made with it fail from then on.
 *
 * @example
 * ```ts
 * await runCredentialRevoke(ctx, "api_key", "3f9a0c21b7de", { workspace: "prod", data: dir, json: false });
 * ```
 */
export async function runCredentialRevoke(
  ctx: CliContext,
  kind: "api_key" | "enroll_token",
  fingerprint: string,
  options: WorkspaceStoreOptions,
): Promise<void> {
  const what = kind === "api_key" ? "API key" : "enroll token";
  const prefix = fingerprint.toLowerCase();
  if (!/^[0-9a-f]{8,64}$/.test(prefix)) {
    throw new CliError(`"${fingerprint}" is not a fingerprint`, {
      hint: `give 8 or more hex digits as "cmdop relay key list" shows them`,
    });
  }
  const removed = await inWorkspace(ctx, options, async (store, id, audit) => {
    const removed = kind === "api_key"
      ? await store.deleteApiKeys(id, prefix)
      : await store.deleteEnrollTokens(id, prefix);
    if (removed > 0) {
      await audit(kind === "api_key" ? "key.revoked" : "enroll_token.revoked", {
        fingerprint: prefix,
      });
    }
    return removed;
  });
  if (removed === 0) {
    throw new CliError(`no ${what} ${fingerprint} in workspace "${options.workspace}"`, {
      hint: "list them with: cmdop relay key list --workspace NAME",
    });
  }
  if (options.json) {
    await ctx.stdout.write(JSON.stringify({ revoked: removed, kind, fingerprint: prefix }) + "\n");
    return;
  }
  await ctx.stdout.write(`${what} ${prefix} revoked\n`);
}

/**
 * Removes a machine from the workspace with its share links and tokens: its agent's
 * credential stops working, and its names are free for another machine.
 *
 * @example
 * ```ts
 * await runMachineRemove(ctx, "0b6f…", { workspace: "prod", data: dir, json: false });
 * ```
 */
export async function runMachineRemove(
  ctx: CliContext,
  machineId: string,
  options: WorkspaceStoreOptions,
): Promise<void> {
  const removed = await inWorkspace(ctx, options, async (store, id, audit) => {
    const machine = await store.machineById(machineId.toLowerCase());
    const removed = await store.deleteMachine(id, machineId.toLowerCase());
    if (removed && machine) await audit("machine.removed", {}, machine);
    return removed;
  });
  if (!removed) {
    throw new CliError(`no machine "${machineId}" in workspace "${options.workspace}"`, {
      hint: "give the machine's id, as cmdop connect --list --json shows it",
    });
  }
  if (options.json) {
    await ctx.stdout.write(JSON.stringify({ removed: machineId }) + "\n");
    return;
  }
  await ctx.stdout.write(`machine ${machineId} removed\n`);
}

/**
 * The audit log as an operator verb writes it: actor `operator` (the local user's name,
 * from `$USER`), no address. A write that fails is a warning: the change is made already.
 */
export function operatorAudit(
  ctx: CliContext,
  audit: AuditStore,
  workspaceId: string,
): OperatorAudit {
  return async (kind, detail = {}, machine) => {
    try {
      await audit.append({
        workspaceId,
        timeMs: ctx.now(),
        kind,
        actorKind: "operator",
        actorId: ctx.env("USER") ?? "",
        peer: "",
        machineId: machine?.id ?? "",
        machineName: machine?.hostname ?? "",
        detail,
      });
    } catch (error) {
      await ctx.stderr.write(
        `warning: the audit log did not record ${kind}: ${(error as Error).message}\n`,
      );
    }
  };
}
