/** passwordSource: where a machine's attach password comes from when the relay asks for it. */
import type { Machine } from "../../gen/cmdop/v1/machine_pb.ts";
import { findMachinePassword } from "../config/passwords.ts";
import type { CliContext } from "./context.ts";
import type { GlobalOptions } from "./globals.ts";
import { promptHidden } from "./read_secret.ts";
import type { RelayConnection } from "./relay_client.ts";
import type { PasswordSource } from "./session_client.ts";

/**
 * The workspace key remembered passwords are filed under: the relay's name of the
 * workspace (so a key, a login and a share link all find the same entry).
 */
export function passwordWorkspace(conn: RelayConnection): string {
  return conn.relayWorkspace?.name || conn.relayWorkspace?.id || "";
}

/**
 * A remembered password first (`cmdop connect password set`, for this relay); otherwise a prompt that
 * echoes nothing when interactive; otherwise none, which the session turns into exit 2.
 * The relay's answer, a 24 h machine token, is kept for the rest of the run by the session.
 */
export function passwordSource(
  ctx: CliContext,
  globals: GlobalOptions,
  conn: RelayConnection,
  machine: Machine,
): PasswordSource {
  return async () => {
    // Keyed by relay too: a relay behind a share link could claim any machine's UUID.
    const remembered = await findMachinePassword(ctx.home(), conn.server, machine.id);
    if (remembered !== undefined) return remembered;
    if (!globals.interactive || !ctx.stdin.isTerminal()) return undefined;
    return await promptHidden(`Password for ${machine.displayName || machine.hostname}:`);
  };
}
