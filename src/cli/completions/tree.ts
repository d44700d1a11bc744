/** completionTree: the command tree as shells see it — every command path, its subcommands and flags. */
import type { Command } from "@commander-js/extra-typings";

/** One command of the tree, by its path of names below `cmdop`. */
export interface CompletionNode {
  /** e.g. "connect exec"; "" for cmdop itself. */
  path: string;
  subcommands: string[];
  /** Long and short flags, this command's and those it inherits from its parents. */
  flags: string[];
}

interface CommandLike {
  name(): string;
  commands: readonly CommandLike[];
  options: readonly { long?: string; short?: string; hidden?: boolean }[];
  _hidden?: boolean;
}

/**
 * Walks the commander tree; the spec's global flags of `cmdop connect` are
 * offered below it too, since they are accepted after a subcommand.
 *
 * @example
 * ```ts
 * completionTree(buildProgram(ctx)).find((n) => n.path === "connect")?.subcommands;
 * ```
 */
export function completionTree(program: Command): CompletionNode[] {
  const nodes: CompletionNode[] = [];
  const visit = (command: CommandLike, path: string, inherited: string[]) => {
    const own = command.options.filter((o) => !o.hidden)
      .flatMap((o) => [o.long, o.short])
      .filter((flag): flag is string => flag !== undefined);
    const flags = [...new Set([...inherited, ...own, "--help"])];
    const children = command.commands.filter((c) => !c._hidden && c.name() !== "help");
    nodes.push({ path, subcommands: children.map((c) => c.name()), flags });
    for (const child of children) {
      visit(child, path ? `${path} ${child.name()}` : child.name(), flags.filter(isInherited));
    }
  };
  visit(program as unknown as CommandLike, "", []);
  return nodes;
}

const GLOBAL_FLAGS = new Set([
  "--api-key",
  "-k",
  "--server",
  "-s",
  "--workspace",
  "--json",
  "--no-interactive",
  "-q",
]);

function isInherited(flag: string): boolean {
  return GLOBAL_FLAGS.has(flag);
}
