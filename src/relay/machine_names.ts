/** Machine names are unique in a workspace: no machine may take a hostname or display name another already answers to. */
import { Code, ConnectError } from "@connectrpc/connect";
import type { MachineRecord } from "./store/store.ts";

/**
 * The error for a machine that asked for `hostname` and `displayName` while `other`, a
 * machine of the same workspace, already answers to one of them (as hostname or display
 * name, in any case): `cmdop connect exec NAME` ranks an exact hostname above a display
 * name, so a machine that took another's name would receive the sessions meant for it.
 * The store finds `other` in the same atomic step that would have written the names.
 *
 * @example
 * ```ts
 * const other = await deps.store.insertMachine(machine);
 * if (other) throw namesTaken(other, machine.hostname, machine.displayName);
 * ```
 */
export function namesTaken(
  other: MachineRecord,
  hostname: string,
  displayName: string,
): ConnectError {
  const lower = (text: string) => text.toLowerCase();
  const taken =
    [hostname, displayName].find((name) =>
      lower(name) === lower(other.hostname) || lower(name) === lower(other.displayName)
    ) ?? hostname;
  return new ConnectError(
    `the name "${taken}" is already used by machine ${other.id} (${other.hostname}) ` +
      `of this workspace; choose another --hostname/--display-name, or remove that machine ` +
      `with: cmdop relay machine remove ${other.id}`,
    Code.AlreadyExists,
  );
}

/**
 * The log line for an agent that changed its own names, or `undefined` when it did not.
 *
 * @example
 * ```ts
 * const line = renameLine(machine, "web-2", "Web 2");
 * ```
 */
export function renameLine(
  machine: MachineRecord,
  hostname: string,
  displayName: string,
): string | undefined {
  const changes: string[] = [];
  if (hostname !== machine.hostname) changes.push(`hostname "${machine.hostname}" → "${hostname}"`);
  if (displayName !== machine.displayName) {
    changes.push(`display name "${machine.displayName}" → "${displayName}"`);
  }
  return changes.length ? `machine ${machine.id} renamed itself: ${changes.join(", ")}` : undefined;
}
