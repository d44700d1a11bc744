/** McpPolicy: what `cmdop mcp` may reach and run — its --allow-machine, --allow-label and --deny-command limits. */
import type { Machine } from "../../../gen/cmdop/v1/machine_pb.ts";
import { LabelError, parseLabel } from "../../lib/labels.ts";
import { CliError } from "../errors.ts";

/** The limits as given on the command line. */
export interface McpLimits {
  /** Machines allowed by hostname, display name or id. */
  allowMachines?: string[];
  /** Machines allowed by one label each, `key=value`. */
  allowLabels?: string[];
  /** Regular expressions; a command line matching any of them is refused. */
  denyCommands?: string[];
}

/** The checks every tool call goes through. */
export interface McpPolicy {
  /** True when the machine is within the limits (always, when none are given). */
  allows(machine: Machine): boolean;
  /** Throws an error naming the machine and the limits when it is outside them. */
  checkMachine(machine: Machine): void;
  /** Throws an error naming the pattern a command line matches. */
  checkCommand(commandLine: string): void;
  /** The limits as flags, for messages: `--allow-machine web-1 --allow-label role=web`. */
  describe(): string;
}

/**
 * Reads the limits; a malformed label or pattern is an error naming the flag and the value.
 * A machine is allowed when any `--allow-machine` names it or it carries any `--allow-label`.
 *
 * @example
 * ```ts
 * const policy = mcpPolicy({ allowLabels: ["role=web"], denyCommands: ["^rm "] });
 * policy.checkCommand("rm -rf /"); // throws: refused, it matches --deny-command "^rm "
 * ```
 */
export function mcpPolicy(limits: McpLimits): McpPolicy {
  const names = limits.allowMachines ?? [];
  const labels = (limits.allowLabels ?? []).map(allowedLabel);
  const denied = (limits.denyCommands ?? []).map(deniedPattern);
  const limited = names.length > 0 || labels.length > 0;
  const describe = () =>
    [
      ...names.map((n) => `--allow-machine ${n}`),
      ...labels.map(([k, v]) => `--allow-label ${k}=${v}`),
    ].join(" ");
  const allows = (m: Machine) =>
    !limited ||
    names.some((n) => n === m.hostname || n === m.displayName || n.toLowerCase() === m.id) ||
    labels.some(([key, value]) => m.labels?.[key] === value);
  return {
    allows,
    checkMachine(machine) {
      if (allows(machine)) return;
      throw new CliError(
        `machine "${machine.displayName || machine.hostname}" is outside this server's limits ` +
          `(${describe()})`,
        { hint: "cmdop mcp reaches only the machines its --allow-machine and --allow-label name" },
      );
    },
    checkCommand(commandLine) {
      const match = denied.find((pattern) => pattern.test(commandLine));
      if (!match) return;
      throw new CliError(
        `the command "${commandLine}" is refused: it matches --deny-command "${match.source}"`,
        { hint: "this server was started with --deny-command patterns that forbid it" },
      );
    },
    describe,
  };
}

function allowedLabel(text: string): [string, string] {
  try {
    return parseLabel(text);
  } catch (error) {
    if (!(error instanceof LabelError)) throw error;
    throw new CliError(`--allow-label: ${error.message}`, {
      hint: "allow machines by label with --allow-label key=value (repeatable; any may match)",
    });
  }
}

function deniedPattern(text: string): RegExp {
  try {
    return new RegExp(text);
  } catch (error) {
    throw new CliError(
      `--deny-command "${text}" is not a regular expression: ${(error as Error).message}`,
      { hint: "e.g. --deny-command '^(rm|shutdown|reboot)\\b'" },
    );
  }
}
