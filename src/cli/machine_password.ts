/** passwordSource: where a machine's attach password comes from when the relay asks for it. */
import type { Machine } from "../../gen/cmdop/v1/machine_pb.ts";
import type { CliContext } from "./context.ts";
import type { GlobalOptions } from "./globals.ts";
import type { RelayConnection } from "./relay_client.ts";
import type { PasswordSource } from "./session_client.ts";

/**
 * A remembered password first; otherwise a prompt (never echoed) when
 * interactive; otherwise none, which the session turns into exit 2.
 */
export function passwordSource(
  ctx: CliContext,
  globals: GlobalOptions,
  _conn: RelayConnection,
  machine: Machine,
): PasswordSource {
  return async () => {
    if (!globals.interactive || !ctx.stdin.isTerminal()) return undefined;
    const { password } = await import("@inquirer/prompts");
    return await password({
      message: `Password for ${machine.displayName || machine.hostname}:`,
      mask: false,
    });
  };
}
