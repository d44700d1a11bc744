/** A machine's own credential, read from its agent's state file, for a client acting as that machine. */
import { ConfigError, ExitCode } from "./errors.ts";

/** The variable that names the agent state file when `--machine-credential` is not given. */
export const MACHINE_CREDENTIAL_VARIABLE = "CMDOP_MACHINE_CREDENTIAL";

/** What a client needs of an agent's `agent.json`: its credential and the relay it enrolled with. */
export interface MachineCredential {
  /** `cmm_<machine id>.<secret>`. */
  credential: string;
  machineId: string;
  /** The first relay URL the agent was given (`agent run --server URL[,URL…]`). */
  server: string;
  /** The file it came from, for messages. */
  path: string;
}

/**
 * Reads the credential from an agent's state file (`--state DIR/agent.json`). A file that
 * is missing, unreadable or not an agent's state is an error naming it (exit 2, an
 * authentication failure); its content is never quoted.
 *
 * @example
 * ```ts
 * const { credential, server } = await readMachineCredential("/var/lib/cmdop-agent/agent.json");
 * ```
 */
export async function readMachineCredential(path: string): Promise<MachineCredential> {
  const fail = (why: string, cause?: unknown): never => {
    throw new ConfigError(`machine credential file "${path}" ${why}`, {
      exitCode: ExitCode.auth,
      hint: "give the agent's state file: --machine-credential STATE_DIR/agent.json " +
        `(or ${MACHINE_CREDENTIAL_VARIABLE}); cmdop must run as a user who may read it`,
      cause,
    });
  };
  let text = "";
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) fail("does not exist", error);
    if (error instanceof Deno.errors.IsADirectory) fail("is a folder", error);
    fail(`cannot be read: ${(error as Error).name}`, error);
  }
  let state: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(text);
    if (typeof parsed === "object" && parsed !== null) state = parsed;
  } catch {
    fail("is not JSON (an agent's agent.json is)");
  }
  const credential = state.credential;
  const match = typeof credential === "string"
    ? /^cmm_([0-9a-f-]{36})\.[A-Za-z0-9_-]+$/.exec(credential)
    : null;
  if (!match) fail("holds no machine credential (cmm_…)");
  const server = typeof state.server === "string" ? state.server.split(",")[0].trim() : "";
  return { credential: credential as string, machineId: match![1], server, path };
}
