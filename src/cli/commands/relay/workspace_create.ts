/** `cmdop relay workspace create NAME --data DIR | --store URL`: a workspace with its first API key and enroll token. */
import type { CliContext } from "../../context.ts";
import { CliError } from "../../errors.ts";

/** Options of {@linkcode runWorkspaceCreate}. */
export interface WorkspaceCreateOptions {
  name: string;
  /** The embedded relay's state directory. */
  data?: string;
  /** Create the store under `data` when it has none (otherwise that is refused as a likely typo). */
  init?: boolean;
  /** A cluster's `postgres://…` store; `CMDOP_RELAY_STORE` when absent. */
  store?: string;
  json: boolean;
}

/** Creates the workspace directly in the relay's store and prints its secrets once. */
export async function runWorkspaceCreate(
  ctx: CliContext,
  options: WorkspaceCreateOptions,
): Promise<void> {
  const { openOperatorStore } = await import("./backends.ts");
  const { createWorkspace } = await import("../../../relay/workspace_admin.ts");
  const { operatorAudit } = await import("./credentials.ts");
  const { hashSecret } = await import("../../../lib/secrets.ts");
  const { store, audit } = await openOperatorStore(ctx, options);
  try {
    const created = await createWorkspace(store, options.name, ctx.now()).catch((error) => {
      throw new CliError((error as Error).message, { cause: error });
    });
    const record = operatorAudit(ctx, audit, created.workspace_id);
    await record("workspace.created", { name: created.name });
    const fingerprint = async (secret: string) => (await hashSecret(secret)).slice(0, 12);
    await record("key.created", { fingerprint: await fingerprint(created.api_key) });
    await record("enroll_token.created", {
      fingerprint: await fingerprint(created.enroll_token),
    });
    if (options.json) {
      await ctx.stdout.write(JSON.stringify(created) + "\n");
      return;
    }
    await ctx.stdout.write(
      `workspace "${created.name}" created (${created.workspace_id})\n` +
        `api key:      ${created.api_key}\n` +
        `enroll token: ${created.enroll_token}\n` +
        "These secrets are shown once; the relay keeps only their hashes.\n",
    );
  } finally {
    await store.close();
  }
}
