/** `cmdop connect password clear <host>`: forget a remembered attach password (no relay needed). */
import { clearMachinePassword, listMachinePasswords } from "../../../config/passwords.ts";
import type { CliContext } from "../../context.ts";
import { CliError, ExitCode } from "../../errors.ts";
import type { GlobalOptions } from "../../globals.ts";

/**
 * Finds the stored entry by hostname or machine id (so a machine that is gone can
 * still be cleared) and removes it. Several matches (the same hostname in two
 * workspaces) are ambiguous unless `--workspace` names the workspace.
 *
 * @example
 * ```ts
 * await runPasswordClear(ctx, globals, { host: "vps-audi" });
 * ```
 */
export async function runPasswordClear(
  ctx: CliContext,
  globals: GlobalOptions,
  options: { host: string },
): Promise<void> {
  const home = ctx.home();
  const wanted = options.host.toLowerCase();
  const matches = (await listMachinePasswords(home, globals.workspace)).filter((p) =>
    p.hostname === options.host || p.machine_id.toLowerCase() === wanted
  );
  if (matches.length === 0) {
    throw new CliError(`no password is stored for "${options.host}"`, {
      hint: "see which are with: cmdop connect password list",
    });
  }
  if (matches.length > 1) {
    throw new CliError(`"${options.host}" matches ${matches.length} stored passwords`, {
      exitCode: ExitCode.ambiguous,
      details: [
        "candidates:",
        ...matches.map((m) => `  ${m.workspace}  ${m.hostname}  ${m.machine_id}`),
      ],
      hint: "use the machine id, or --workspace <name>",
    });
  }
  const [entry] = matches;
  await clearMachinePassword(home, { workspace: entry.workspace, machineId: entry.machine_id });
  if (globals.json) {
    await ctx.stdout.write(
      JSON.stringify({
        workspace: entry.workspace,
        machine_id: entry.machine_id,
        hostname: entry.hostname,
        cleared: true,
      }) + "\n",
    );
    return;
  }
  await ctx.stdout.write(`password for "${entry.hostname}" forgotten\n`);
}
