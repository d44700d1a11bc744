/** The `cmdop connect` subtree of the spec page: attach, exec, list, and the verbs around them. */
import type { Command } from "@commander-js/extra-typings";
import type { CliContext } from "./context.ts";
import type { RunState } from "./globals.ts";
import { collectValues, globalsOf, withGlobalFlags } from "./command_options.ts";
import { DEFAULT_PARALLEL, EXEC_MANY_HELP } from "./commands/connect/exec_many_args.ts";
import { registerCpCommand } from "./commands/connect/cp_command.ts";
import { registerForwardCommand } from "./commands/connect/forward_command.ts";
import { registerAuditCommand } from "./commands/audit/audit_command.ts";
import { registerRecordingCommands } from "./commands/recording/recording_commands.ts";

/** `cmdop connect` itself, whatever its own arguments and options. */
type Parent = Command<unknown[], Record<string, unknown>>;

/** Registers `cmdop connect …`. */
export function registerConnectCommands(program: Command, ctx: CliContext, state: RunState): void {
  const connect = withGlobalFlags(
    program.command("connect")
      .description("Reach machines in your workspace: picker, attach, exec, share")
      .argument("[hostname]", "hostname, display name, unique prefix, UUID or share link")
      .option("--link-file <file>", "a file holding a share link: attach to its machine")
      .option("--list", "print the machine inventory and exit")
      .option("--online", "with --list: only machines that are online")
      .option(
        "--label <key=value>",
        "with --list: only machines with this label (repeatable; all must match)",
        collectValues,
      ),
  );
  connect.action(async (hostname, opts, command) => {
    const globals = globalsOf(command);
    if (opts.list) {
      const { runList } = await import("./commands/connect/list.ts");
      await runList(ctx, globals, state, { online: opts.online === true, labels: opts.label });
      return;
    }
    if (opts.label) {
      const { CliError } = await import("./errors.ts");
      throw new CliError("--label selects machines for --list or exec, not for attach", {
        hint:
          "cmdop connect --list --label role=web, or cmdop connect exec --label role=web -- CMD",
      });
    }
    const { runAttach } = await import("./commands/connect/attach.ts");
    await runAttach(ctx, globals, state, { host: hostname, linkFile: opts.linkFile });
  });

  connect.command("exec")
    .description("Run one command and exit with its status")
    .usage(
      "[options] <host> -- <cmd...>\n       cmdop connect exec [options] --link-file <file> -- <cmd...>\n" +
        "       cmdop connect exec [options] (--label <key=value>... | --all) -- <cmd...>",
    )
    .argument("[host]", "machine to run on (left out with --link-file or CMDOP_SHARE_LINK)")
    .argument("[cmd...]", "the command, after --")
    .option("--link-file <file>", "a file holding a share link: the machine it reaches")
    .option(
      "--timeout <seconds>",
      "kill the remote command after this long (90, 90s, 5m); 0 = no limit",
      "30",
    )
    .option("--shell", "run the command as one line through sh -c on the machine, as ssh does")
    .option(
      "--label <key=value>",
      "run on every machine with this label instead of one host (repeatable; all must match)",
      collectValues,
    )
    .option("--all", "run on every machine of the workspace")
    .option("--parallel <n>", "with --label/--all: machines at once", String(DEFAULT_PARALLEL))
    .option("--group", "with --label/--all: each machine's output in one block when it ends")
    .addHelpText("after", EXEC_MANY_HELP)
    .action(async (host, cmd, opts, command) => {
      // Commander drops `--`; the root keeps the raw words, which say where the command began.
      const rawArgs = (program as unknown as { rawArgs: string[] }).rawArgs;
      const { operandsOfCommander } = await import("./direct_exec.ts");
      const operands = operandsOfCommander(host, cmd, rawArgs);
      // connect's own --link-file is read wherever it sits on the line, this one's included.
      const { linkFile, label } = command.optsWithGlobals() as {
        linkFile?: string;
        label?: string[];
      };
      if (opts.all || label?.length) {
        const { checkFanOut } = await import("./commands/connect/exec_many_args.ts");
        checkFanOut(ctx, { host: operands.host, linkFile });
        const { runExecMany } = await import("./commands/connect/exec_many.ts");
        await runExecMany(ctx, globalsOf(command), state, {
          labels: label ?? [],
          all: opts.all === true,
          argv: operands.argv,
          timeout: opts.timeout,
          shell: opts.shell === true,
          parallel: opts.parallel,
          group: opts.group === true,
        });
        return;
      }
      if (opts.group || command.getOptionValueSource("parallel") === "cli") {
        const { CliError } = await import("./errors.ts");
        throw new CliError("--parallel and --group go with --label or --all", {
          hint: "cmdop connect exec --label role=web --parallel 8 -- CMD",
        });
      }
      if (operands.argv.length === 0 && operands.host === undefined && !linkFile) {
        command.help({ error: true });
        return;
      }
      const { runExec } = await import("./commands/connect/exec.ts");
      await runExec(ctx, globalsOf(command), state, {
        ...operands,
        timeout: opts.timeout,
        shell: opts.shell === true,
        linkFile,
      });
    });

  registerCpCommand(connect, ctx, state);
  registerForwardCommand(connect, ctx, state);
  registerShareCommands(connect, ctx, state);
  registerLocalCommands(connect, ctx, state);
  registerMemberCommands(connect, ctx, state);
  registerAuditCommand(connect, ctx, state);
  registerRecordingCommands(connect, ctx, state);
}

/** The relay-side verbs of a workspace member: `key list`, `key revoke`, `machine remove`. */
function registerMemberCommands(connect: Parent, ctx: CliContext, state: RunState): void {
  const key = connect.commands.find((c) => c.name() === "key")!;
  key.command("list")
    .description("List the workspace's API keys on the relay by fingerprint")
    .action(async (_opts, command) => {
      const { runKeyList } = await import("./commands/key/remote.ts");
      await runKeyList(ctx, globalsOf(command), state);
    });
  key.command("revoke")
    .description("Revoke a workspace API key by fingerprint (from key list); its sessions end")
    .argument("<fingerprint>")
    .action(async (fingerprint, _opts, command) => {
      const { runKeyRevoke } = await import("./commands/key/remote.ts");
      await runKeyRevoke(ctx, globalsOf(command), state, { fingerprint });
    });
  connect.command("machine").description("Manage the workspace's machines")
    .command("remove")
    .description("Remove a machine: its agent's credential, share links and sessions end")
    .argument("<host>", "hostname, display name, unique prefix or UUID")
    .action(async (host, _opts, command) => {
      const { runMachineRemove } = await import("./commands/machine/remove.ts");
      await runMachineRemove(ctx, globalsOf(command), state, { host });
    });
}

/** `cmdop connect share <host> [--ttl] [--read-only]`, `share list`, `share revoke <id>`. */
function registerShareCommands(connect: Parent, ctx: CliContext, state: RunState): void {
  const share = connect.command("share")
    .description("Mint a time-limited link that reaches one machine (or: share list, share revoke)")
    .argument("[host]", "machine to share")
    .option("--ttl <hours>", "lifetime in whole hours (sub-hour values round up); 0 = never", "24h")
    .option(
      "--read-only",
      "the link watches the terminal you open on the machine, sending nothing; no exec, cp, forward",
    )
    .action(async (host, opts, command) => {
      if (!host) {
        command.help({ error: true });
        return;
      }
      const { runShareCreate } = await import("./commands/share/create.ts");
      await runShareCreate(ctx, globalsOf(command), state, {
        host,
        ttl: opts.ttl,
        readOnly: opts.readOnly === true,
      });
    });
  share.command("list")
    .description("List the workspace's share links")
    .action(async (_opts, command) => {
      const { runShareList } = await import("./commands/share/list.ts");
      await runShareList(ctx, globalsOf(command), state);
    });
  share.command("revoke")
    .description("Revoke a share link by id (or a unique prefix of it)")
    .argument("<id>")
    .action(async (id, _opts, command) => {
      const { runShareRevoke } = await import("./commands/share/revoke.ts");
      await runShareRevoke(ctx, globalsOf(command), state, { id });
    });
}

/** The verbs that manage local state: `key`, `set-key`, `workspace`, `password`. */
function registerLocalCommands(connect: Parent, ctx: CliContext, state: RunState): void {
  const key = connect.command("key").description("Manage the workspace API key");
  key.command("set")
    .description(
      "Store an API key in the active (or --workspace) workspace; with -s URL, its relay too",
    )
    .argument("[key]", "the key; read from stdin or a hidden prompt when omitted")
    .action(async (value, _opts, command) => {
      const { runKeySet } = await import("./commands/key/set.ts");
      await runKeySet(ctx, globalsOf(command), { key: value });
    });
  key.command("get")
    .description("Print the API key, masked to its first and last 4 characters")
    .action(async (_opts, command) => {
      const { runKeyGet } = await import("./commands/key/get.ts");
      await runKeyGet(ctx, globalsOf(command));
    });
  key.command("clear")
    .description("Remove the API key (the workspace stays)")
    .action(async (_opts, command) => {
      const { runKeyClear } = await import("./commands/key/clear.ts");
      await runKeyClear(ctx, globalsOf(command));
    });
  connect.command("set-key", { hidden: true })
    .description("Deprecated: use key set")
    .argument("<key>")
    .action(async (value, _opts, command) => {
      const { runKeySet } = await import("./commands/key/set.ts");
      await runKeySet(ctx, globalsOf(command), { key: value, legacy: true });
    });

  const workspace = connect.command("workspace").description("Switch between workspaces");
  workspace.command("list")
    .description("Show all workspaces, the active one marked")
    .action(async (_opts, command) => {
      const { runWorkspaceList } = await import("./commands/workspace/list.ts");
      await runWorkspaceList(ctx, globalsOf(command));
    });
  workspace.command("use")
    .description(
      "Make a workspace the active one; with --server URL, store its relay (new names are created)",
    )
    .usage("<name> [--server URL]")
    .argument("<name>")
    .action(async (name, _opts, command) => {
      const { runWorkspaceUse } = await import("./commands/workspace/use.ts");
      await runWorkspaceUse(ctx, globalsOf(command), { name });
    });
  workspace.command("remove")
    .description("Delete a workspace locally (with its API key)")
    .argument("<name>")
    .action(async (name, _opts, command) => {
      const { runWorkspaceRemove } = await import("./commands/workspace/remove.ts");
      await runWorkspaceRemove(ctx, globalsOf(command), { name });
    });
  workspace.command("sync")
    .description("Fetch your workspaces from the relay (needs cmdop login)")
    .action(async (_opts, command) => {
      const { runWorkspaceSync } = await import("./commands/workspace/sync.ts");
      await runWorkspaceSync(ctx, globalsOf(command), state);
    });

  const password = connect.command("password").description("Remember per-machine attach passwords");
  password.command("set")
    .description("Remember a machine's password (prompted, or read from stdin)")
    .argument("<host>")
    .action(async (host, _opts, command) => {
      const { runPasswordSet } = await import("./commands/password/set.ts");
      await runPasswordSet(ctx, globalsOf(command), state, { host });
    });
  password.command("clear")
    .description("Forget a machine's password")
    .argument("<host>", "hostname or machine id")
    .action(async (host, _opts, command) => {
      const { runPasswordClear } = await import("./commands/password/clear.ts");
      await runPasswordClear(ctx, globalsOf(command), { host });
    });
  password.command("list")
    .description("Which machines have a password stored")
    .action(async (_opts, command) => {
      const { runPasswordList } = await import("./commands/password/list.ts");
      await runPasswordList(ctx, globalsOf(command));
    });
}
