/** `cmdop connect machine remove HOST`: a workspace member removes one of its machines. */
import type { CliContext } from "../../context.ts";
import type { GlobalOptions, RunState } from "../../globals.ts";
import { resolveTarget } from "../../target.ts";

/**
 * Removes the machine named by hostname, display name, unique prefix or UUID (online or
 * not) with its share links: its agent's credential stops working, and its control stream
 * and running sessions end. Enrolling it again needs an enroll token.
 *
 * @example
 * ```ts
 * await runMachineRemove(ctx, globals, state, { host: "old-builder" });
 * ```
 */
export async function runMachineRemove(
  ctx: CliContext,
  globals: GlobalOptions,
  state: RunState,
  options: { host: string },
): Promise<void> {
  const { conn, machine } = await resolveTarget(ctx, globals, state, options.host, {
    mustBeOnline: false,
  });
  await conn.machines.removeMachine({ machineId: machine.id }, { signal: ctx.signal });
  if (globals.json) {
    await ctx.stdout.write(
      JSON.stringify({ id: machine.id, hostname: machine.hostname, removed: true }) + "\n",
    );
    return;
  }
  await ctx.stdout.write(`machine ${machine.hostname} (${machine.id}) removed\n`);
}
