/** The interactive steps before an attach: pick a machine by fuzzy search, confirm it, give its password. */
import type { Machine } from "../../../gen/cmdop/v1/machine_pb.ts";
import type { CliContext } from "../context.ts";
import {
  choiceColumns,
  confirmMessage,
  filterMachines,
  machineChoice,
  machineName,
} from "./machine_choices.ts";
import { type PromptContext, promptStreams } from "./prompt_streams.ts";
import type { TerminalInput } from "./terminal_input.ts";

/** How many machines the picker shows at once. */
const PAGE_SIZE = 12;

/**
 * Lets the user choose one of `ordered` (already in picker order), narrowing
 * the list as they type. Ctrl-C rejects with @inquirer's `ExitPromptError`.
 *
 * @example
 * ```ts
 * const machine = await pickMachine(ctx, input, orderMachines(machines, recent));
 * ```
 */
export async function pickMachine(
  ctx: CliContext,
  input: TerminalInput,
  ordered: readonly Machine[],
): Promise<Machine> {
  const { searchPrompt } = await import("./search_prompt.ts");
  // Widths from every machine, so the columns stay put as the filter narrows the list.
  const columns = choiceColumns(ordered);
  return await withPrompt(ctx, input, (context) =>
    searchPrompt<Machine>({
      message: "Machine (type to filter)",
      pageSize: PAGE_SIZE,
      choices: (term) =>
        filterMachines(ordered, term).map((m) => machineChoice(m, ctx.now(), columns)),
    }, context));
}

/**
 * Shows the machine's name, hostname, online state and last heartbeat and
 * asks whether to attach (default yes).
 *
 * @example
 * ```ts
 * if (await confirmMachine(ctx, input, machine)) await attach(machine);
 * ```
 */
export async function confirmMachine(
  ctx: CliContext,
  input: TerminalInput,
  machine: Machine,
): Promise<boolean> {
  const { confirm } = await import("@inquirer/prompts");
  return await withPrompt(
    ctx,
    input,
    (context) => confirm({ message: confirmMessage(machine, ctx.now()), default: true }, context),
  );
}

/**
 * Asks for a machine's attach password without echoing it.
 *
 * @example
 * ```ts
 * const password = await promptPassword(ctx, input, machine);
 * ```
 */
export async function promptPassword(
  ctx: CliContext,
  input: TerminalInput,
  machine: Machine,
): Promise<string> {
  const { password } = await import("@inquirer/prompts");
  return await withPrompt(
    ctx,
    input,
    (context) => password({ message: `Password for ${machineName(machine)}:` }, context),
  );
}

async function withPrompt<T>(
  ctx: CliContext,
  input: TerminalInput,
  prompt: (context: PromptContext) => Promise<T>,
): Promise<T> {
  const streams = promptStreams(ctx, input);
  try {
    return await prompt(streams.context);
  } finally {
    await streams.finish();
  }
}
