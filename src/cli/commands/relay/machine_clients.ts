/** `cmdop relay workspace machine-clients show|set|clear NAME`: which machines may act as clients of their workspace, and which machines they reach. */
import { formatLabels, LabelError, type Labels, parseLabels } from "../../../lib/labels.ts";
import type { MachineClientsSetting } from "../../../relay/store/store.ts";
import type { CliContext } from "../../context.ts";
import { CliError } from "../../errors.ts";
import { inWorkspace, type WorkspaceStoreOptions } from "./credentials.ts";

/**
 * Reads `--allow-from` and `--reach` values: each one a selector, `key=value[,key=value…]`,
 * whose labels must all match; a machine matching any selector of a flag matches the flag.
 * At least one `--allow-from` is needed; no `--reach` reaches every machine of the workspace.
 *
 * @example
 * ```ts
 * parseMachineClients(["role=ci"], ["env=staging"]);
 * // { allowFrom: [{ role: "ci" }], reach: [{ env: "staging" }] }
 * ```
 */
export function parseMachineClients(
  allowFrom: readonly string[],
  reach: readonly string[],
): MachineClientsSetting {
  if (allowFrom.length === 0) {
    throw new CliError("give at least one --allow-from KEY=VALUE", {
      hint:
        "to let no machine act as a client, run: cmdop relay workspace machine-clients clear NAME",
    });
  }
  return {
    allowFrom: parseSelectors("--allow-from", allowFrom),
    reach: parseSelectors("--reach", reach),
  };
}

function parseSelectors(flag: string, texts: readonly string[]): Labels[] {
  return texts.map((text) => {
    try {
      return parseLabels(text.split(",").map((label) => label.trim()));
    } catch (error) {
      if (!(error instanceof LabelError)) throw error;
      throw new CliError(`${flag} "${text}": ${error.message}`, {
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
  const setting = await inWorkspace(ctx, options, (store, id) => store.machineClients(id));
  await printSetting(ctx, options, setting);
}

/**
 * Replaces the workspace's machine-clients setting: machines whose labels match one of
 * `setting.allowFrom` may list and reach, with their own credential, the workspace's
 * machines that match one of `setting.reach` (all of them when it is empty).
 *
 * @example
 * ```ts
 * const setting = { allowFrom: [{ role: "ci" }], reach: [{ env: "staging" }] };
 * await runMachineClientsSet(ctx, setting, { workspace: "prod", data: dir, json: false });
 * ```
 */
export async function runMachineClientsSet(
  ctx: CliContext,
  setting: MachineClientsSetting,
  options: WorkspaceStoreOptions,
): Promise<void> {
  await inWorkspace(ctx, options, (store, id) => store.setMachineClients(id, setting));
  await printSetting(ctx, options, setting);
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
  const cleared = { allowFrom: [], reach: [] };
  await inWorkspace(ctx, options, (store, id) => store.setMachineClients(id, cleared));
  await printSetting(ctx, options, cleared);
}

async function printSetting(
  ctx: CliContext,
  options: WorkspaceStoreOptions,
  setting: MachineClientsSetting,
): Promise<void> {
  const allowFrom = setting.allowFrom.map((s) => formatLabels(s));
  const reach = setting.reach.map((s) => formatLabels(s));
  if (options.json) {
    await ctx.stdout.write(
      JSON.stringify({ workspace: options.workspace, allow_from: allowFrom, reach }) + "\n",
    );
    return;
  }
  if (allowFrom.length === 0) {
    await ctx.stdout.write(
      `no machine may act as a client of workspace "${options.workspace}" (the default)\n`,
    );
    return;
  }
  const reaches = reach.length === 0
    ? "and reach every machine of the workspace\n"
    : `and reach only the machines labelled as one of these:\n` +
      reach.map((s) => `  --reach ${s}\n`).join("");
  await ctx.stdout.write(
    `machines of workspace "${options.workspace}" labelled as one of these may act as its ` +
      `clients:\n${allowFrom.map((s) => `  --allow-from ${s}\n`).join("")}${reaches}`,
  );
}
