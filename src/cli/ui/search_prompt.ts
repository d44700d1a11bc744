/** searchPrompt: a type-to-filter list whose matches are computed as each key arrives, so Enter pasted with the text selects. */
import {
  createPrompt,
  isDownKey,
  isEnterKey,
  isUpKey,
  makeTheme,
  useKeypress,
  useMemo,
  usePagination,
  usePrefix,
  useState,
} from "@inquirer/core";
import type { PromptContext } from "./prompt_streams.ts";

/** One line of the list. */
export interface SearchChoice<V> {
  value: V;
  /** The line shown. */
  name: string;
  /** Shown under the list while this line is highlighted. */
  description?: string;
  /** Shown after the question once chosen; `name` when absent. */
  short?: string;
}

/** What {@linkcode searchPrompt} asks. */
export interface SearchConfig<V> {
  message: string;
  pageSize?: number;
  /**
   * The lines for a filter text, best first. Synchronous on purpose: @inquirer/search asks
   * an async source and drops an Enter that arrives before it answered (a paste of
   * "web\r", or `tmux send-keys web Enter`), which is the bug this prompt exists to avoid.
   */
  choices: (term: string) => readonly SearchChoice<V>[];
}

/**
 * Asks the user to pick one of `choices(term)` while they type `term`. Enter picks
 * the highlighted line (the first match unless arrows moved it) of everything typed
 * so far, however fast it came. Ctrl-C rejects with @inquirer's `ExitPromptError`.
 *
 * @example
 * ```ts
 * const host = await searchPrompt({
 *   message: "Machine (type to filter)",
 *   choices: (term) => hosts.filter((h) => h.includes(term)).map((h) => ({ value: h, name: h })),
 * }, context);
 * ```
 */
export function searchPrompt<V>(config: SearchConfig<V>, context?: PromptContext): Promise<V> {
  return prompt(config as SearchConfig<unknown>, context) as Promise<V>;
}

const prompt = createPrompt<unknown, SearchConfig<unknown>>((config, done) => {
  const theme = makeTheme({});
  const [status, setStatus] = useState<"idle" | "done">("idle");
  const [term, setTerm] = useState("");
  const [active, setActive] = useState(0);
  // Computed during the render that follows each key, before the next key is handled.
  const results = useMemo(() => config.choices(term), [term]);
  const prefix = usePrefix({ status, theme });
  const chosen = results[Math.min(active, results.length - 1)];

  useKeypress((key, rl) => {
    if (isEnterKey(key)) {
      if (chosen) {
        setStatus("done");
        done(chosen.value);
      } else {
        // Readline empties its line on Enter: put the text back so the user can fix it.
        rl.write(term);
      }
    } else if (isUpKey(key) || isDownKey(key)) {
      // Readline would recall history into the line: keep the filter text as it was.
      rl.clearLine(0);
      rl.write(term);
      const step = isUpKey(key) ? -1 : 1;
      setActive(Math.max(0, Math.min(results.length - 1, active + step)));
    } else if (rl.line !== term) {
      setTerm(rl.line);
      setActive(0);
    }
  });

  const message = theme.style.message(config.message, status);
  if (status === "done" && chosen) {
    return `${prefix} ${message} ${theme.style.answer(chosen.short ?? chosen.name)}`;
  }
  const page = usePagination({
    items: results,
    active: Math.max(0, Math.min(active, results.length - 1)),
    renderItem: ({ item, isActive }) =>
      isActive ? theme.style.highlight(`❯ ${item.name}`) : `  ${item.name}`,
    pageSize: config.pageSize ?? 7,
    loop: false,
  });
  const header = [prefix, message, term].filter(Boolean).join(" ");
  const list = results.length === 0 && term !== "" ? theme.style.error("No results found") : page;
  const body = [list, " ", chosen?.description ?? ""].filter(Boolean).join("\n").trimEnd();
  return [header, body];
});
