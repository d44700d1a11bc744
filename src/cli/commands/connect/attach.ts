/** `cmdop connect [host]`: interactive attach (picker when no host). */
import type { CliContext } from "../../context.ts";
import { CliError } from "../../errors.ts";
import type { GlobalOptions, RunState } from "../../globals.ts";

export interface AttachOptions {
  host?: string;
}

/** Attaches to a machine's terminal. */
export function runAttach(
  _ctx: CliContext,
  _globals: GlobalOptions,
  _state: RunState,
  _options: AttachOptions,
): Promise<void> {
  return Promise.reject(new CliError("interactive attach is not available yet"));
}
