/** Machines as clients: whether a machine's credential may act as a client of its workspace, and which machines it may reach. */
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
 * Whether a machine acting as a client may reach a machine labelled `labels`: no reach
 * selector reaches every machine of the workspace, itself included; otherwise the target
 * must match every label of one of them (itself too: its own labels grant it nothing).
 *
 * @example
 * ```ts
 * machineReachable({ env: "staging", role: "web" }, [{ env: "staging" }]); // true
 * machineReachable({ env: "prod" }, [{ env: "staging" }]); // false
 * machineReachable({ env: "prod" }, []); // true
 * ```
 */
export function machineReachable(
  labels: Readonly<Labels>,
  reach: readonly Readonly<Labels>[],
): boolean {
  return reach.length === 0 || reach.some((selector) => matchesLabels(labels, selector));
}

/**
 * Admits a machine, already authenticated by its credential, as a client of its own
 * workspace, reading the workspace's setting and the machine's labels as they are now
 * (so clearing the setting or relabelling the machine takes effect on its next call).
 * Returns the setting's reach selectors, the machines this call may see. Refused:
 * PermissionDenied naming the setting, with the operator's command as a hint.
 *
 * @example
 * ```ts
 * const reach = await admitMachineClient(deps.store, machine);
 * ```
 */
export async function admitMachineClient(
  store: Store,
  machine: MachineRecord,
): Promise<Labels[]> {
  const setting = await store.machineClients(machine.workspaceId);
  const refusal = machineClientRefusal(machine.labels, setting.allowFrom);
  if (refusal === undefined) return setting.reach;
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
 * The same checks for a running session, as a reason to end it (its calling machine
 * removed or no longer allowed, or its `target`, as it is now, out of the setting's
 * reach), or `undefined` while it may go on. A missing target is left to the caller.
 *
 * @example
 * ```ts
 * const target = await deps.store.machineById(machineId);
 * const reason = await machineClientRevoked(deps.store, principal.machineId, principal.workspaceId, target);
 * ```
 */
export async function machineClientRevoked(
  store: Store,
  machineId: string,
  workspaceId: string,
  target?: MachineRecord,
): Promise<string | undefined> {
  const machine = await store.machineById(machineId);
  if (machine?.workspaceId !== workspaceId) return "its calling machine was removed";
  const setting = await store.machineClients(workspaceId);
  const refusal = machineClientRefusal(machine.labels, setting.allowFrom);
  if (refusal !== undefined) return `its calling machine may no longer act as a client: ${refusal}`;
  if (target !== undefined && !machineReachable(target.labels, setting.reach)) {
    return "its machine is no longer within the reach of its calling machine " +
      "(the workspace's machine-clients --reach)";
  }
  return undefined;
}
