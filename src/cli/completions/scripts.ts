/** Completion scripts for bash, zsh and fish, generated from the command tree. */
import type { CompletionNode } from "./tree.ts";

/** The shells `cmdop completions` writes scripts for. */
export const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = typeof SHELLS[number];

/**
 * The completion script for `shell`.
 *
 * @example
 * ```ts
 * completionScript("bash", completionTree(program)); // source it in ~/.bashrc
 * ```
 */
export function completionScript(shell: Shell, nodes: CompletionNode[]): string {
  return shell === "fish" ? fishScript(nodes) : bashScript(nodes, shell === "zsh");
}

/** The words offered at a path: subcommands first, then flags. */
function words(node: CompletionNode): string {
  return [...node.subcommands, ...node.flags].join(" ");
}

function bashScript(nodes: CompletionNode[], zsh: boolean): string {
  const known = nodes.map((n) => `"${n.path}"`).join(" ");
  const cases = nodes.map((n) => `    "${n.path}") words="${words(n)}" ;;`).join("\n");
  // zsh runs the bash function through bashcompinit, which needs compinit's compdef.
  const preamble = zsh
    ? "(( $+functions[compdef] )) || { autoload -U +X compinit && compinit; }\n" +
      "autoload -U +X bashcompinit && bashcompinit\n"
    : "";
  return `# cmdop completions for ${zsh ? "zsh" : "bash"}: eval "$(cmdop completions ${
    zsh ? "zsh" : "bash"
  })"
${preamble}_cmdop() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" word next i words=""
  local -a known=(${known})
  # The command path is the run of words that name known subcommands; the rest are arguments.
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    [[ "$word" == -* ]] && continue
    next="\${path:+$path }$word"
    local k found=""
    for k in "\${known[@]}"; do [[ "$k" == "$next" ]] && found=1 && break; done
    [[ -n "$found" ]] && path="$next"
  done
  case "$path" in
${cases}
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _cmdop cmdop
`;
}

function fishScript(nodes: CompletionNode[]): string {
  const known = nodes.map((n) => `"${n.path}"`).join(" ");
  const lines = [
    "# cmdop completions for fish: cmdop completions fish > ~/.config/fish/completions/cmdop.fish",
    "function __cmdop_path",
    "    set -l path ''",
    `    set -l known ${known}`,
    "    for word in (commandline -opc)[2..-1]",
    "        string match -q -- '-*' $word; and continue",
    '        set -l next (string trim -- "$path $word")',
    "        contains -- $next $known; and set path $next",
    "    end",
    "    echo $path",
    "end",
    "function __cmdop_at",
    "    set -l path (__cmdop_path | string collect)",
    '    test "$path" = "$argv[1]"',
    "end",
  ];
  for (const node of nodes) {
    const at = `-n '__cmdop_at "${node.path}"'`;
    if (node.subcommands.length > 0) {
      lines.push(`complete -c cmdop -f ${at} -a '${node.subcommands.join(" ")}'`);
    }
    for (const flag of node.flags) {
      const option = flag.startsWith("--") ? `-l ${flag.slice(2)}` : `-s ${flag.slice(1)}`;
      lines.push(`complete -c cmdop ${at} ${option}`);
    }
  }
  return lines.join("\n") + "\n";
}
