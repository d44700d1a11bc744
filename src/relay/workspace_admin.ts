/** Operator actions on the relay's store that bypass the network: creating workspaces. */
import { hashSecret, newId, newSecret } from "../lib/secrets.ts";
import { SecretPrefix } from "./auth.ts";
import type { Store } from "./store/store.ts";

export interface CreatedWorkspace {
  workspace_id: string;
  name: string;
  /** Shown once; only its hash is stored. */
  api_key: string;
  /** Shown once; only its hash is stored. */
  enroll_token: string;
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/**
 * Creates a workspace with one API key and one enroll token.
 *
 * @example
 * ```ts
 * const ws = await createWorkspace(store, "prod", Date.now());
 * ```
 */
export async function createWorkspace(
  store: Store,
  name: string,
  nowMs: number,
): Promise<CreatedWorkspace> {
  if (!NAME_PATTERN.test(name)) {
    throw new Error(
      `workspace name "${name}" is not valid: use 1-63 letters, digits, ".", "_" or "-"`,
    );
  }
  const id = newId();
  await store.insertWorkspace({ id, name, createdMs: nowMs });
  const apiKey = newSecret(SecretPrefix.apiKey);
  const enrollToken = newSecret(SecretPrefix.enrollToken);
  await store.insertApiKey(id, await hashSecret(apiKey), nowMs);
  await store.insertEnrollToken(id, await hashSecret(enrollToken), nowMs);
  return { workspace_id: id, name, api_key: apiKey, enroll_token: enrollToken };
}
