/** `cmdop login`, `cmdop logout`, and the relay operator's `cmdop relay user add`. */
import { type Command, Option } from "@commander-js/extra-typings";
import type { CliContext } from "./context.ts";
import { loadServerVerb } from "./server_verbs.ts";

/** Registers `cmdop login [--server URL]` and `cmdop logout`. */
export function registerLoginCommands(program: Command, ctx: CliContext): void {
  program.command("login")
    .description("Sign in through the relay (OAuth device flow); tokens go to CMDOP_HOME/auth.json")
    .option(
      "-s, --server <url>",
      "the relay to sign in to (default: CMDOP_SERVER, then the configured one)",
    )
    .option("--json", "print the result as JSON (implies --no-interactive)")
    .addOption(new Option("-q, --no-interactive", "never open a browser or prompt"))
    .action(async (opts) => {
      const { runLogin } = await import("./commands/login.ts");
      const json = opts.json === true;
      await runLogin(ctx, { server: opts.server, json, interactive: opts.interactive && !json });
    });
  program.command("logout")
    .description("Revoke the login on the relay and delete it locally")
    .option("--json", "print the result as JSON")
    .action(async (opts) => {
      const { runLogout } = await import("./commands/logout.ts");
      await runLogout(ctx, { json: opts.json === true });
    });
}

/** Registers `cmdop relay user add EMAIL --data DIR | --store URL [--workspace NAME …] [--password-stdin]`. */
export function registerRelayUserCommands(relay: Command, ctx: CliContext): void {
  relay.command("user").description("Manage who can sign in with cmdop login")
    .command("add")
    .description("Create a user (or update one) and grant it workspaces")
    .argument("<email>")
    .option("--data <dir>", "the embedded relay's state directory")
    .option("--store <url>", "postgres://… a cluster's store (or CMDOP_RELAY_STORE)")
    .option(
      "--workspace <name>",
      "grant this workspace (repeatable)",
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option("--password-stdin", "read the password from stdin")
    .option("--json", "print a JSON object")
    .action(async (email, opts) => {
      const { runUserAdd } = await loadServerVerb("userAdd");
      await runUserAdd(ctx, {
        email,
        data: opts.data,
        store: opts.store,
        workspaces: opts.workspace,
        passwordStdin: opts.passwordStdin === true,
        json: opts.json === true,
      });
    });
}
