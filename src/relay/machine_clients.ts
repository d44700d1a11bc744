/** Machines as clients: whether a machine's credential may list and reach the other machines of its workspace. */
import { Code, ConnectError } from "@connectrpc/connect";
import { formatLabels, type Labels, matchesLabels } from "../lib/labels.ts";
import type { MachineRecord, Store } from "./store/store.ts";

/**
 * Why the machine may not act as a client, or `undefined` when one of the workspace's
 * selectors matches its labels now. An empty selector matches nothing: the setting
 * never lets every machine in by accident.
 *
 * @example
 * ```ts
 * machineClientRefusal({ role: "ci" }, [{ role: "ci" }]); // undefined
 * machineClientRefusal({ role: "web" }, [{ role: "ci" }]); // "its labels (role=web) match none …"
 * ```
 */
export function machineClientRefusal(
  labels: Readonly<Labels>,
  selectors: readonly Readonly<Labels>[],
): string | undefined {
  const usable = selectors.filter((s) => Object.keys(s).length > 0);
  if (usable.length === 0) return "the workspace lets no machine act as a client";
  if (usable.some((selector) => matchesLabels(labels, selector))) return undefined;
  const own = formatLabels(labels);
  return `its labels (${own || "none"}) match none of the workspace's machine-clients selectors`;
}

/**
 * Admits a machine, already authenticated by its credential, as a client of its own
 * workspace, reading the workspace's setting and the machine's labels as they are now
 * (so clearing the setting or relabelling the machine takes effect on its next call).
 * Refused: PermissionDenied naming the setting, with the operator's command as a hint.
 *
 * @example
 * ```ts
 * await admitMachineClient(deps.store, machine);
 * ```
 */
export async function admitMachineClient(store: Store, machine: MachineRecord): Promise<void> {
  const refusal = machineClientRefusal(
    machine.labels,
    await store.machineClients(machine.workspaceId),
  );
  if (refusal === undefined) return;
  const workspace = (await store.workspaceById(machine.workspaceId))?.name ?? machine.workspaceId;
  throw new ConnectError(
    `machine "${machine.hostname}" may not act as a client of workspace "${workspace}": ${refusal}`,
    Code.PermissionDenied,
    {
      "cmdop-hint": `a relay operator allows machines by label with: cmdop relay workspace ` +
        `machine-clients set ${workspace} --allow-from KEY=VALUE`,
    },
  );
}

/**
 * The same check for a running session, as a reason to end it (its machine removed,
 * or no longer allowed), or `undefined` while it may go on.
 *
 * @example
 * ```ts
 * const reason = await machineClientRevoked(deps.store, principal.machineId, principal.workspaceId);
 * ```
 */
export async function machineClientRevoked(
  store: Store,
  machineId: string,
  workspaceId: string,
): Promise<string | undefined> {
  const machine = await store.machineById(machineId);
  if (machine?.workspaceId !== workspaceId) return "its calling machine was removed";
  const refusal = machineClientRefusal(machine.labels, await store.machineClients(workspaceId));
  return refusal === undefined
    ? undefined
    : `its calling machine may no longer act as a client: ${refusal}`;
}
