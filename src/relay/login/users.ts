/** Operator actions on login users that bypass the network: adding a user and granting workspaces. */
import { newId } from "../../lib/secrets.ts";
import { hashPassword } from "../passwords.ts";
import type { Store } from "../store/store.ts";
import type { LoginStore } from "./login_store.ts";

/** What `addUser` did. */
export interface AddedUser {
  user_id: string;
  email: string;
  /** False when the user existed and was only updated. */
  created: boolean;
  /** Whether a new password was set. */
  password_set: boolean;
  /** Every workspace the user belongs to now, by name. */
  workspaces: string[];
}

const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+$/;

/**
 * Creates a user (or updates an existing one), bcrypt-hashing the password, and
 * grants the named workspaces. A new user needs a password; unknown workspace names
 * are an error before anything is written.
 *
 * @example
 * ```ts
 * await addUser(store, logins, { email: "ana@example.com", password, workspaces: ["prod"] }, Date.now());
 * ```
 */
export async function addUser(
  store: Store,
  logins: LoginStore,
  input: { email: string; password?: string; workspaces: string[] },
  nowMs: number,
): Promise<AddedUser> {
  const email = input.email.trim().toLowerCase();
  if (!EMAIL_PATTERN.test(email)) throw new Error(`"${input.email}" is not an email address`);
  const workspaceIds: string[] = [];
  for (const name of input.workspaces) {
    const workspace = await store.workspaceByName(name);
    if (!workspace) throw new Error(`workspace "${name}" does not exist`);
    workspaceIds.push(workspace.id);
  }
  let user = await logins.userByEmail(email);
  const created = user === undefined;
  if (!user) {
    if (!input.password) throw new Error(`a new user needs a password (use --password-stdin)`);
    user = {
      id: newId(),
      email,
      passwordHash: await hashPassword(input.password),
      createdMs: nowMs,
    };
    await logins.insertUser(user);
  } else if (input.password) {
    await logins.setUserPassword(user.id, await hashPassword(input.password));
  }
  for (const id of workspaceIds) await logins.grantWorkspace(user.id, id, nowMs);
  return {
    user_id: user.id,
    email,
    created,
    password_set: input.password !== undefined && input.password !== "",
    workspaces: (await logins.userWorkspaces(user.id)).map((w) => w.name),
  };
}
