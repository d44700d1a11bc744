/** `cmdop relay workspace machine-clients show|set|clear NAME`: which machines may act as clients of their workspace. */
import { formatLabels, LabelError, type Labels, parseLabels } from "../../../lib/labels.ts";
import type { CliContext } from "../../context.ts";
import { CliError } from "../../errors.ts";
import { inWorkspace, type WorkspaceStoreOptions } from "./credentials.ts";

/**
 * Reads `--allow-from` values: each one a selector, `key=value[,key=value…]`, whose
 * labels must all match; a machine matching any selector is allowed.
 *
 * @example
 * ```ts
 * parseAllowFrom(["role=ci", "env=build,team=infra"]); // [{ role: "ci" }, { env: "build", team: "infra" }]
 * ```
 */
export function parseAllowFrom(texts: readonly string[]): Labels[] {
  if (texts.length === 0) {
    throw new CliError("give at least one --allow-from KEY=VALUE", {
      hint:
        "to let no machine act as a client, run: cmdop relay workspace machine-clients clear NAME",
    });
  }
  return texts.map((text) => {
    try {
      return parseLabels(text.split(",").map((label) => label.trim()));
    } catch (error) {
      if (!(error instanceof LabelError)) throw error;
      throw new CliError(`--allow-from "${text}": ${error.message}`, {
        hint: "a selector is key=value, or several joined with commas (all must match)",
      });
    }
  });
}

/**
 * Prints the workspace's machine-clients setting.
 *
 * @example
 * ```ts
 * await runMachineClientsShow(ctx, { workspace: "prod", data: "/var/lib/cmdop", json: false });
 * ```
 */
export async function runMachineClientsShow(
  ctx: CliContext,
  options: WorkspaceStoreOptions,
): Promise<void> {
  const selectors = await inWorkspace(ctx, options, (store, id) => store.machineClients(id));
  await printSetting(ctx, options, selectors);
}

/**
 * Replaces the workspace's machine-clients setting: machines whose labels match one of
 * `selectors` may list and reach the workspace's machines with their own credential.
 *
 * @example
 * ```ts
 * await runMachineClientsSet(ctx, [{ role: "ci" }], { workspace: "prod", data: dir, json: false });
 * ```
 */
export async function runMachineClientsSet(
  ctx: CliContext,
  selectors: Labels[],
  options: WorkspaceStoreOptions,
): Promise<void> {
  await inWorkspace(ctx, options, (store, id) => store.setMachineClients(id, selectors));
  await printSetting(ctx, options, selectors);
}

/**
 * Clears the setting: no machine may act as a client (the default). Calls made with a
 * machine credential are refused from the next one on, and running sessions end.
 *
 * @example
 * ```ts
 * await runMachineClientsClear(ctx, { workspace: "prod", data: dir, json: false });
 * ```
 */
export async function runMachineClientsClear(
  ctx: CliContext,
  options: WorkspaceStoreOptions,
): Promise<void> {
  await inWorkspace(ctx, options, (store, id) => store.setMachineClients(id, []));
  await printSetting(ctx, options, []);
}

async function printSetting(
  ctx: CliContext,
  options: WorkspaceStoreOptions,
  selectors: Labels[],
): Promise<void> {
  const allowFrom = selectors.map((s) => formatLabels(s));
  if (options.json) {
    await ctx.stdout.write(
      JSON.stringify({ workspace: options.workspace, allow_from: allowFrom }) + "\n",
    );
    return;
  }
  if (allowFrom.length === 0) {
    await ctx.stdout.write(
      `no machine may act as a client of workspace "${options.workspace}" (the default)\n`,
    );
    return;
  }
  await ctx.stdout.write(
    `machines of workspace "${options.workspace}" labelled as one of these may act as its ` +
      `clients:\n${allowFrom.map((s) => `  --allow-from ${s}\n`).join("")}`,
  );
}
