/** buildProgram: the cmdop command tree. Definitions are cheap; each action imports its command lazily. */
import { Command, Option } from "@commander-js/extra-typings";
import { versionText } from "../version.ts";
import type { CliContext } from "./context.ts";
import type { RunState } from "./globals.ts";
import {
  collectValues,
  globalsOf,
  withCredentialFlags,
  withGlobalFlags,
} from "./command_options.ts";
import { registerConnectCommands } from "./connect_tree.ts";
import { registerLoginCommands, registerRelayUserCommands } from "./login_tree.ts";
import {
  registerMachineClientCommands,
  registerRecordingCommands,
  registerRelayAdminCommands,
} from "./relay_admin_tree.ts";
import { ATTACH_HELP } from "./commands/connect/attach_help.ts";
import { DEFAULT_PARALLEL } from "./commands/connect/exec_many_args.ts";
import { withHelpText } from "./help_text.ts";
import { loadServerVerb } from "./server_verbs.ts";

/**
 * The whole command tree, writing through the context.
 *
 * @example
 * ```ts
 * await buildProgram(ctx, {}).parseAsync(["connect", "--list"], { from: "user" });
 * ```
 */
export function buildProgram(ctx: CliContext, state: RunState = {}): Command {
  const program = new Command("cmdop")
    .description("Reach your machines by name through a relay: no SSH keys, no open ports")
    .version(versionText(), "-V, --version", "print cmdop's, Deno's and the protocol's versions")
    .exitOverride()
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({
      // Commander writes synchronously; the writes are kept so runCli can finish them before exit.
      writeOut: (text) => void (state.pendingOutput ??= []).push(ctx.stdout.write(text)),
      writeErr: (text) => void (state.pendingOutput ??= []).push(ctx.stderr.write(text)),
    });

  const relay = program.command("relay").description("Run and administer a relay");
  relay.command("serve")
    .description("Serve the relay: SQLite under --data, or a cluster node with --store and --bus")
    .option("--listen <host:port>", "address to listen on", "127.0.0.1:4780")
    .option("--data <dir>", "state directory", ".cmdop-relay")
    .option("--public-url <url>", "URL clients use to reach this relay (share links)")
    .option("--store <url>", "postgres://… shared state for a cluster (or CMDOP_RELAY_STORE)")
    .option("--bus <url>", "nats://… routing between cluster nodes (or CMDOP_RELAY_BUS)")
    .option("--node-id <id>", "this node's name in a cluster (default: hostname-pid)")
    .option("--tls-cert <file>", "PEM certificate chain: serve HTTPS")
    .option("--tls-key <file>", "PEM private key of --tls-cert")
    .addOption(logFormatOption())
    .option(
      "--header-timeout <duration>",
      "close a connection that sends no request in this",
      "10s",
    )
    .option(
      "--idle-timeout <duration>",
      "close a connection idle between requests this long",
      "60s",
    )
    .option(
      "--body-timeout <duration>",
      "refuse a unary call whose body has not all arrived in this",
      "30s",
    )
    .option("--max-connections <n>", "open connections in all (default: from the fd limit)")
    .option("--max-connections-per-source <n>", "open connections from one address", "4096")
    .option(
      "--trusted-proxy <cidr>",
      "a reverse proxy (address or range) whose X-Forwarded-For names the client (repeatable)",
      collectValues,
    )
    .option(
      "--recording-retention <duration>",
      "delete session recordings older than this (0: keep them)",
      "30d",
    )
    .option(
      "--recording-max-bytes <size>",
      "output a terminal session's recording keeps; past it a marker",
      "64MiB",
    )
    .option(
      "--recording-exec-output <size>",
      "output an exec session's recording keeps; past it a marker",
      "1MiB",
    )
    .action(async (opts) => {
      const { runServe } = await loadServerVerb("serve");
      await runServe(ctx, {
        logFormat: opts.logFormat as "text" | "json",
        listen: opts.listen,
        data: opts.data,
        publicUrl: opts.publicUrl,
        store: opts.store,
        bus: opts.bus,
        nodeId: opts.nodeId,
        tlsCert: opts.tlsCert,
        tlsKey: opts.tlsKey,
        headerTimeout: opts.headerTimeout,
        idleTimeout: opts.idleTimeout,
        bodyTimeout: opts.bodyTimeout,
        maxConnections: opts.maxConnections,
        maxConnectionsPerSource: opts.maxConnectionsPerSource,
        trustedProxy: opts.trustedProxy,
        recordingRetention: opts.recordingRetention,
        recordingMaxBytes: opts.recordingMaxBytes,
        recordingExecOutput: opts.recordingExecOutput,
      });
    });
  const relayWorkspace = relay.command("workspace")
    .description("Manage workspaces in the relay's store");
  relayWorkspace.command("create")
    .description("Create a workspace and print its API key and enroll token")
    .argument("<name>")
    .option("--data <dir>", "the embedded relay's state directory (relay serve's --data)")
    .option("--init", "with --data: create the store when the folder has none yet")
    .option("--store <url>", "postgres://… a cluster's store (or CMDOP_RELAY_STORE)")
    .option("--json", "print a JSON object")
    .action(async (name, opts) => {
      const { runWorkspaceCreate } = await loadServerVerb("workspaceCreate");
      await runWorkspaceCreate(ctx, {
        name,
        data: opts.data,
        init: opts.init === true,
        store: opts.store,
        json: opts.json === true,
      });
    });

  registerMachineClientCommands(relayWorkspace, ctx);
  registerRecordingCommands(relayWorkspace, ctx);
  registerRelayUserCommands(relay, ctx);
  registerRelayAdminCommands(relay, ctx);

  program.command("agent").description("Run the agent on this machine")
    .command("run")
    .description("Enroll once, then keep this machine reachable through the relay")
    .option("--server <url[,url…]>", "relay URL, or several tried in turn (or CMDOP_SERVER)")
    .option("--ca-file <file>", "PEM CA certificates to trust for https:// (or CMDOP_CA_FILE)")
    .option("--enroll-token-file <file>", "file holding the workspace enroll token (first run)")
    .option("--enroll-token <token>", "enroll token on the command line (visible in ps; avoid)")
    .requiredOption("--state <dir>", "where the machine credential is kept")
    .option("--hostname <name>", "hostname to register (default: this machine's)")
    .option("--display-name <name>", "friendly name shown in lists")
    .option("--password-stdin", "read an attach password from stdin and register it")
    .option(
      "--label <key=value>",
      "label this machine, e.g. env=prod (repeatable); labels given here replace the saved " +
        "ones, which are kept when none is given",
      collectValues,
    )
    .addOption(logFormatOption())
    .option("--max-sessions <n>", "sessions running at once; more are refused", "64")
    .option(
      "--resume-grace <duration>",
      "how long a terminal whose connection dropped is kept for its client to resume " +
        "(e.g. 90s, 5m; 0 turns resuming off)",
      "5m",
    )
    .option(
      "--no-port-forwarding",
      "refuse port forwarding (cmdop connect forward) to this machine",
    )
    .option("--no-file-copy", "refuse file copies (cmdop connect cp) to and from this machine")
    .action(async (opts) => {
      const { runAgentCommand } = await loadServerVerb("agent");
      await runAgentCommand(ctx, {
        logFormat: opts.logFormat as "text" | "json",
        server: opts.server,
        caFile: opts.caFile,
        enrollToken: opts.enrollToken,
        enrollTokenFile: opts.enrollTokenFile,
        state: opts.state,
        hostname: opts.hostname,
        displayName: opts.displayName,
        passwordStdin: opts.passwordStdin === true,
        labels: opts.label,
        maxSessions: opts.maxSessions,
        resumeGrace: opts.resumeGrace,
        noPortForwarding: opts.portForwarding === false,
        noFileCopy: opts.fileCopy === false,
      });
    });

  registerConnectCommands(program, ctx, state);
  registerLoginCommands(program, ctx);
  program.commands.find((c) => c.name() === "connect")?.addHelpText("after", ATTACH_HELP);
  withGlobalFlags(
    program.command("terminal")
      .description("Open an interactive terminal on a machine (the same dial as cmdop connect)")
      .argument("[host]", "hostname, display name, unique prefix or UUID; a picker when omitted")
      .option("--link-file <file>", "a file holding a share link: attach to its machine"),
  )
    .addHelpText("after", ATTACH_HELP)
    .action(async (host, opts, command) => {
      const { runAttach } = await import("./commands/connect/attach.ts");
      await runAttach(ctx, globalsOf(command), state, { host, linkFile: opts.linkFile });
    });
  withCredentialFlags(
    program.command("mcp")
      .description(
        "Serve the Model Context Protocol on stdin/stdout: AI assistants list machines and run commands",
      )
      .option("--read-only", "no exec tools: list machines only")
      .option(
        "--allow-machine <name>",
        "reach only this machine (hostname, display name or id; repeatable)",
        collectValues,
      )
      .option(
        "--allow-label <key=value>",
        "reach only machines with this label (repeatable; any may match)",
        collectValues,
      )
      .option(
        "--deny-command <regex>",
        "refuse command lines that match this pattern (repeatable)",
        collectValues,
      )
      .option("--max-output <bytes>", "bytes kept of each output stream per machine", "64k")
      .option("--parallel <n>", "machines exec_many runs on at once", String(DEFAULT_PARALLEL)),
  )
    .addHelpText("after", MCP_HELP)
    .action(async (opts, command) => {
      const { runMcp } = await import("./commands/mcp.ts");
      await runMcp(ctx, globalsOf(command), state, {
        readOnly: opts.readOnly === true,
        allowMachines: opts.allowMachine,
        allowLabels: opts.allowLabel,
        denyCommands: opts.denyCommand,
        maxOutput: opts.maxOutput,
        parallel: opts.parallel,
      });
    });
  program.command("completions")
    .description("Print a shell completion script: bash, zsh or fish")
    .argument("<shell>", "bash, zsh or fish")
    .action(async (shell) => {
      const { runCompletions } = await import("./commands/completions.ts");
      await runCompletions(ctx, program, shell);
    });
  withHelpText(program);
  return program;
}

/** The part of `mcp --help` about what it serves and how a client starts it. */
const MCP_HELP = `
Tools: list_machines (online, labels), exec (machine, argv or command, timeout_seconds),
exec_many (labels or all, argv or command, timeout_seconds); resource cmdop://machines.
Each output stream keeps --max-output bytes: past that its start and end, a marker
with the full size between. A refused or failed call is a tool error; the server goes on.
--allow-machine/--allow-label hide and refuse every other machine; --deny-command
patterns are searched in the command line (argv joined with spaces, or the shell line).
A client starts it as: {"command": "cmdop", "args": ["mcp", "--read-only"]}`;

/** `--log-format text|json` of the long-running commands (relay serve, agent run). */
function logFormatOption() {
  return new Option("--log-format <format>", "log lines on stderr: text, or one JSON object each")
    .choices(["text", "json"] as const)
    .default("text" as const);
}
