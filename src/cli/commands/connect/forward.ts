/** `cmdop connect forward HOST SPEC`: a local port carried to a host and port reached from a machine. */
import type { CliContext } from "../../context.ts";
import { CliError } from "../../errors.ts";
import type { GlobalOptions, RunState } from "../../globals.ts";

export interface ForwardOptions {
  host?: string;
  spec?: string;
  bind?: string;
  linkFile?: string;
  maxConnections?: string;
}

/** Listens and forwards until interrupted. */
export function runForward(
  _ctx: CliContext,
  _globals: GlobalOptions,
  _state: RunState,
  _options: ForwardOptions,
): Promise<void> {
  return Promise.reject(new CliError("cmdop connect forward: not built yet"));
}
