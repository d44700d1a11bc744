/** resolveMachine: hostname, display name, unique prefix or UUID → exactly one machine, as the spec orders it. */
import type { Machine } from "../../gen/cmdop/v1/machine_pb.ts";
import { isUuidShaped } from "../lib/secrets.ts";
import { CliError, ExitCode } from "./errors.ts";
import { formatTable } from "./ui/table.ts";

/**
 * Picks the machine `query` names. Order: full UUID (never fuzzy), exact
 * hostname, exact display name, then a unique prefix of either. More than one
 * match at the first step that matches is ambiguous (exit 4, candidates
 * listed); none is exit 1.
 *
 * @example
 * ```ts
 * const machine = resolveMachine(machines, "web");
 * ```
 */
export function resolveMachine(machines: Machine[], query: string): Machine {
  if (isUuidShaped(query)) {
    const byId = machines.find((m) => m.id.toLowerCase() === query.toLowerCase());
    if (!byId) throw new CliError(`no machine with id "${query}"`, { hint: HINT });
    return byId;
  }
  const q = query.toLowerCase();
  const steps: ((m: Machine) => boolean)[] = [
    (m) => m.hostname === query,
    (m) => m.displayName === query,
    (m) => m.hostname.toLowerCase() === q || m.displayName.toLowerCase() === q,
    (m) => m.hostname.toLowerCase().startsWith(q) || m.displayName.toLowerCase().startsWith(q),
  ];
  for (const matches of steps) {
    const found = machines.filter(matches);
    if (found.length === 1) return found[0];
    if (found.length > 1) {
      throw new CliError(`"${query}" matches ${found.length} machines`, {
        exitCode: ExitCode.ambiguous,
        details: ["candidates:", ...describeCandidates(found)],
        hint: "use the full hostname or the machine id",
      });
    }
  }
  throw new CliError(`no machine matches "${query}"`, { hint: HINT });
}

/** Offline machines cannot be reached: exit 3. */
export function requireOnline(machine: Machine): void {
  if (!machine.online) {
    throw new CliError(
      `machine "${machine.displayName || machine.hostname}" (${machine.hostname}) is offline`,
      { exitCode: ExitCode.offline, hint: "its agent is not connected to the relay" },
    );
  }
}

/** The candidates as an indented table, so their columns line up. */
function describeCandidates(machines: Machine[]): string[] {
  const rows = machines.map((m) => [
    m.hostname,
    m.displayName || "-",
    m.id,
    m.online ? "online" : "offline",
  ]);
  return formatTable(["HOSTNAME", "NAME", "ID", "STATUS"], rows).trimEnd().split("\n")
    .map((line) => `  ${line}`);
}

const HINT = "list machines with: cmdop connect --list";
