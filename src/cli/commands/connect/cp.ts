/** `cmdop connect cp SOURCE DESTINATION`: files to or from a machine. */
import type { CliContext } from "../../context.ts";
import { CliError } from "../../errors.ts";
import type { GlobalOptions, RunState } from "../../globals.ts";

export interface CpOptions {
  source: string;
  destination: string;
  recursive: boolean;
  linkFile?: string;
}

/** Copies between this machine and a remote one. */
export function runCp(
  _ctx: CliContext,
  _globals: GlobalOptions,
  _state: RunState,
  _options: CpOptions,
): Promise<void> {
  return Promise.reject(new CliError("cmdop connect cp: not built yet"));
}
