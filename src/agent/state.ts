/** The agent's machine credential on disk: written once at enrollment, 0600, reused on every start. */
import { join } from "node:path";
import { checkLabels, type Labels } from "../lib/labels.ts";
import { refuseLinkedFile, securePrivateDir } from "../lib/private_files.ts";

export interface AgentState {
  server: string;
  machine_id: string;
  workspace_id: string;
  /** `cmm_<machine id>.<secret>`: the agent's bearer credential. */
  credential: string;
  /** The machine's labels as last given with `agent run --label`; sent in every hello. */
  labels?: Labels;
}

const FILE = "agent.json";

/** Reads the state file; undefined when the agent has not enrolled yet. A damaged file is an error. */
export async function loadAgentState(stateDir: string): Promise<AgentState | undefined> {
  const path = join(stateDir, FILE);
  // A link planted here could make the agent send another file's content as its credential.
  await refuseLinkedFile(path);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw new Error(`cannot read "${path}": ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`"${path}" is not valid JSON; move it away to enroll again`);
  }
  const state = parsed as Partial<AgentState>;
  for (const key of ["server", "machine_id", "workspace_id", "credential"] as const) {
    if (typeof state[key] !== "string" || state[key] === "") {
      throw new Error(`"${path}" is not valid: ${key} must be a non-empty string`);
    }
  }
  if (state.labels !== undefined) {
    const labels = state.labels as unknown;
    if (
      typeof labels !== "object" || labels === null || Array.isArray(labels) ||
      Object.values(labels).some((v) => typeof v !== "string")
    ) {
      throw new Error(`"${path}" is not valid: labels must be an object of strings`);
    }
    try {
      checkLabels(labels as Labels);
    } catch (error) {
      throw new Error(`"${path}" is not valid: ${(error as Error).message}`);
    }
  }
  return state as AgentState;
}

/** Writes the state file atomically with mode 0600, in a folder made (or tightened to) 0700. */
export async function saveAgentState(
  stateDir: string,
  state: AgentState,
  log: (message: string) => void = (message) => console.error(message),
): Promise<void> {
  await securePrivateDir(stateDir, log);
  const path = join(stateDir, FILE);
  await refuseLinkedFile(path);
  const temp = `${path}.${crypto.randomUUID()}.tmp`;
  try {
    await Deno.writeTextFile(temp, JSON.stringify(state, null, 2) + "\n", { mode: 0o600 });
    await Deno.chmod(temp, 0o600);
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
}
