/** `cmdop relay workspace create NAME --data DIR`: a workspace with its first API key and enroll token. */
import type { CliContext } from "../../context.ts";
import { CliError } from "../../errors.ts";

export interface WorkspaceCreateOptions {
  name: string;
  data: string;
  json: boolean;
}

/** Creates the workspace directly in the relay's store and prints its secrets once. */
export async function runWorkspaceCreate(
  ctx: CliContext,
  options: WorkspaceCreateOptions,
): Promise<void> {
  const { openSqliteStore } = await import("../../../relay/store/sqlite.ts");
  const { createWorkspace } = await import("../../../relay/workspace_admin.ts");
  const { ConflictError } = await import("../../../relay/store/store.ts");
  const store = await openSqliteStore(options.data);
  try {
    const created = await createWorkspace(store, options.name, ctx.now()).catch((error) => {
      if (error instanceof ConflictError) throw new CliError(error.message);
      throw new CliError((error as Error).message);
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
