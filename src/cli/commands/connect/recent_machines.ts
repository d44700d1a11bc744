/** recentMachines: which machines of a workspace were attached to last, remembered under CMDOP_HOME for the picker's order. */
import type { CliContext } from "../../context.ts";

/** The recent-use memory of one workspace. */
export interface RecentMachines {
  /** Machine ids, most recently used first; empty when nothing can be read. */
  order(): Promise<string[]>;
  /** Records an attach to `machineId` now. */
  touch(machineId: string): Promise<void>;
}

/**
 * The recent-use memory of `workspace` (the relay's workspace id, which
 * stays the same whatever the workspace is called locally). It only orders
 * the picker, so a file that cannot be read or written costs a warning, not
 * the attach.
 *
 * @example
 * ```ts
 * const recent = recentMachines(ctx, listing.workspaceId);
 * await recent.touch(machine.id);
 * ```
 */
export function recentMachines(ctx: CliContext, workspace: string): RecentMachines {
  let warned = false;
  const warn = async (error: unknown) => {
    if (warned) return;
    warned = true;
    const message = error instanceof Error ? error.message : String(error);
    await ctx.stderr.write(`warning: recent machines not remembered: ${message}\n`);
  };
  return {
    async order() {
      try {
        const { recentOrder } = await import("../../../config/recent.ts");
        return await recentOrder(ctx.home(), workspace);
      } catch (error) {
        await warn(error);
        return [];
      }
    },
    async touch(machineId) {
      try {
        const { touchRecent } = await import("../../../config/recent.ts");
        await touchRecent(ctx.home(), workspace, machineId, () => ctx.now());
      } catch (error) {
        await warn(error);
      }
    },
  };
}
