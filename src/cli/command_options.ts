/** The options many commands share: the spec page's global flags, reading them back, repeatable values. */
import { type Command, Option } from "@commander-js/extra-typings";
import { type GlobalOptions, toGlobalOptions } from "./globals.ts";

/** Adds the global flags of the spec page to a command. */
export function withGlobalFlags<C extends Command<unknown[], Record<string, unknown>>>(
  command: C,
): C {
  withCredentialFlags(command)
    .addOption(new Option("--json", "emit structured output (implies --no-interactive)"))
    .addOption(new Option("-q, --no-interactive", "never prompt; fail fast if data is missing"));
  return command;
}

/**
 * Adds the global flags that choose the relay and credential: `--api-key`, `--server`,
 * `--workspace`, `--machine-credential`.
 */
export function withCredentialFlags<C extends Command<unknown[], Record<string, unknown>>>(
  command: C,
): C {
  command
    .addOption(new Option("-k, --api-key <key>", "override the resolved API key for this call"))
    .addOption(new Option("-s, --server <addr>", "the relay's URL for this call (or CMDOP_SERVER)"))
    .addOption(
      new Option("--workspace <name>", "use the named workspace instead of the active one"),
    )
    .addOption(
      new Option(
        "--machine-credential <file>",
        "act as this machine: its agent's state file, e.g. /var/lib/cmdop-agent/agent.json " +
          "(or CMDOP_MACHINE_CREDENTIAL); its workspace must allow it",
      ),
    );
  return command;
}

/** The global options as seen from any subcommand. */
export function globalsOf(command: { optsWithGlobals(): Record<string, unknown> }): GlobalOptions {
  return toGlobalOptions(command.optsWithGlobals());
}

/**
 * Collects a repeatable option's values in order (`--label a=1 --label b=2`).
 *
 * @example
 * ```ts
 * new Command().option("--label <key=value>", "a label", collectValues);
 * ```
 */
export function collectValues(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
