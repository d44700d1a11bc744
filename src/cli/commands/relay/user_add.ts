/** `cmdop relay user add EMAIL --data DIR [--workspace NAME …] [--password-stdin]`: a user who can `cmdop login`. */
import type { CliContext } from "../../context.ts";
import { CliError } from "../../errors.ts";
import { promptHidden, readAllStdin } from "../../read_secret.ts";

/** Options of {@linkcode runUserAdd}. */
export interface UserAddOptions {
  email: string;
  data: string;
  workspaces: string[];
  passwordStdin: boolean;
  json: boolean;
}

/**
 * Creates the user (bcrypt-hashed password) or updates an existing one, and grants the
 * workspaces, directly in the relay's store.
 */
export async function runUserAdd(ctx: CliContext, options: UserAddOptions): Promise<void> {
  const password = await passwordOf(ctx, options);
  const { openSqliteStore } = await import("../../../relay/store/sqlite.ts");
  const { SqliteLoginStore } = await import("../../../relay/login/sqlite_login_store.ts");
  const { addUser } = await import("../../../relay/login/users.ts");
  const store = await openSqliteStore(options.data);
  try {
    const added = await addUser(
      store,
      new SqliteLoginStore(store.db),
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
