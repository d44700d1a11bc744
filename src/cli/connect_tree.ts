/** The `cmdop connect` subtree of the spec page: attach, exec, list, and the verbs around them. */
import type { Command } from "@commander-js/extra-typings";
import type { CliContext } from "./context.ts";
import type { RunState } from "./globals.ts";
import { globalsOf, withGlobalFlags } from "./program.ts";

/** Registers `cmdop connect …`. */
export function registerConnectCommands(program: Command, ctx: CliContext, state: RunState): void {
  const connect = withGlobalFlags(
    program.command("connect")
      .description("Reach machines in your workspace: picker, attach, exec, share")
      .argument("[hostname]", "hostname, display name, unique prefix, UUID or share link")
      .option("--list", "print the machine inventory and exit")
      .option("--online", "with --list: only machines that are online"),
  );
  connect.action(async (hostname, opts, command) => {
    const globals = globalsOf(command);
    if (opts.list) {
      const { runList } = await import("./commands/connect/list.ts");
      await runList(ctx, globals, state, { online: opts.online === true });
      return;
    }
    const { runAttach } = await import("./commands/connect/attach.ts");
    await runAttach(ctx, globals, state, { host: hostname });
  });

  connect.command("exec")
    .description("Run one command and exit with its status")
    .argument("<host>", "machine to run on")
    .argument("<cmd...>", "the command, after --")
    .option("--timeout <seconds>", "kill the remote command after this long", "30")
    .action(async (host, argv, opts, command) => {
      const { runExec } = await import("./commands/connect/exec.ts");
      await runExec(ctx, globalsOf(command), state, { host, argv, timeout: opts.timeout });
    });
}
