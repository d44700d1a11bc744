/** `cmdop relay workspace recording show|on|off NAME`: whether the relay records the workspace's terminal and exec sessions. */
import type { CliContext } from "../../context.ts";
import { inWorkspace, type WorkspaceStoreOptions } from "./credentials.ts";

/**
 * Prints whether the workspace's sessions are recorded (off by default).
 *
 * @example
 * ```ts
 * await runRecordingShow(ctx, { workspace: "prod", data: "/var/lib/cmdop", json: false });
 * ```
 */
export async function runRecordingShow(
  ctx: CliContext,
  options: WorkspaceStoreOptions,
): Promise<void> {
  const on = await inWorkspace(
    ctx,
    options,
    (_store, id, _audit, { recordings }) => recordings.enabled(id),
  );
  await printSetting(ctx, options, on);
}

/**
 * Turns recording on or off for the workspace; sessions that start from then on follow the
 * setting (one already running keeps what it had), and the change is in the audit log.
 *
 * @example
 * ```ts
 * await runRecordingSet(ctx, true, { workspace: "prod", data: "/var/lib/cmdop", json: false });
 * ```
 */
export async function runRecordingSet(
  ctx: CliContext,
  on: boolean,
  options: WorkspaceStoreOptions,
): Promise<void> {
  await inWorkspace(ctx, options, async (_store, id, audit, { recordings }) => {
    await recordings.setEnabled(id, on);
    await audit(on ? "recording.enabled" : "recording.disabled");
  });
  await printSetting(ctx, options, on);
}

async function printSetting(
  ctx: CliContext,
  options: WorkspaceStoreOptions,
  on: boolean,
): Promise<void> {
  if (options.json) {
    await ctx.stdout.write(JSON.stringify({ workspace: options.workspace, recording: on }) + "\n");
    return;
  }
  await ctx.stdout.write(
    on
      ? `the relay records the terminal and exec sessions of workspace "${options.workspace}"\n`
      : `the relay does not record the sessions of workspace "${options.workspace}" (the default)\n`,
  );
}
