/** `cmdop relay user add EMAIL --data DIR | --store URL [--workspace NAME …] [--password-stdin]`: a user who can `cmdop login`. */
import type { CliContext } from "../../context.ts";
import { CliError } from "../../errors.ts";
import { promptHidden, readAllStdin } from "../../read_secret.ts";

/** Options of {@linkcode runUserAdd}. */
export interface UserAddOptions {
  email: string;
  /** The embedded relay's state directory. */
  data?: string;
  /** A cluster's `postgres://…` store; `CMDOP_RELAY_STORE` when absent. */
  store?: string;
  workspaces: string[];
  passwordStdin: boolean;
  json: boolean;
}

/**
 * Creates the user (bcrypt-hashed password) or updates an existing one, and grants the
 * workspaces, directly in the relay's store.
 */
export async function runUserAdd(ctx: CliContext, options: UserAddOptions): Promise<void> {
  const { openOperatorStore } = await import("./backends.ts");
  const { addUser } = await import("../../../relay/login/users.ts");
  // The store first: a wrong --store fails before anyone types a password.
  const { store, logins } = await openOperatorStore(ctx, options);
  try {
    const password = await passwordOf(ctx, options);
    const added = await addUser(
      store,
      logins,
      { email: options.email, password, workspaces: options.workspaces },
      ctx.now(),
    ).catch((error: Error) => {
      throw new CliError(error.message, { cause: error });
    });
    if (options.json) {
      await ctx.stdout.write(JSON.stringify(added) + "\n");
      return;
    }
    const where = added.workspaces.length > 0
      ? `workspaces: ${added.workspaces.map((w) => `"${w}"`).join(", ")}`
      : "no workspaces yet (grant some with --workspace NAME)";
    await ctx.stdout.write(
      `user "${added.email}" ${
        added.created ? "created" : "updated"
      } (${added.user_id}); ${where}\n`,
    );
  } finally {
    await store.close();
  }
}

/** --password-stdin reads stdin; otherwise a terminal is asked, and with neither the password stays as it is. */
async function passwordOf(ctx: CliContext, options: UserAddOptions): Promise<string | undefined> {
  if (options.passwordStdin) {
    const password = (await readAllStdin(ctx)).replace(/\r?\n$/, "");
    if (password === "") throw new CliError("--password-stdin read an empty password");
    return password;
  }
  if (!ctx.stdin.isTerminal() || options.json) return undefined;
  const password = await promptHidden(`Password for ${options.email}:`);
  return password === "" ? undefined : password;
}
