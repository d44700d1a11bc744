/** Registers the operator's credential and machine verbs under `cmdop relay`: key, enroll-token, machine, audit, workspace machine-clients. */
import type { Command } from "@commander-js/extra-typings";
import { collectValues } from "./command_options.ts";
import type { CliContext } from "./context.ts";
import { loadServerVerb } from "./server_verbs.ts";

type Kind = "api_key" | "enroll_token";

/**
 * `cmdop relay key list|create|revoke`, `cmdop relay enroll-token create|revoke` and
 * `cmdop relay machine remove`.
 *
 * @example
 * ```ts
 * registerRelayAdminCommands(program.command("relay"), ctx);
 * ```
 */
export function registerRelayAdminCommands(relay: Command, ctx: CliContext): void {
  const options = (opts: { workspace: string; data?: string; store?: string; json?: true }) => ({
    workspace: opts.workspace,
    data: opts.data,
    store: opts.store,
    json: opts.json === true,
  });
  const load = () => loadServerVerb("credentials");

  const key = relay.command("key").description("List, create and revoke a workspace's API keys");
  key.command("list")
    .description("List the workspace's API keys and enroll tokens by fingerprint")
    .requiredOption("--workspace <name>", "the workspace")
    .option("--data <dir>", "the embedded relay's state directory")
    .option("--store <url>", "postgres://… a cluster's store (or CMDOP_RELAY_STORE)")
    .option("--json", "print JSON")
    .action(async (opts) => await (await load()).runCredentialList(ctx, options(opts)));
  for (
    const [noun, kind, what] of [
      [key, "api_key", "API key"],
      [
        relay.command("enroll-token").description("Create and revoke a workspace's enroll tokens"),
        "enroll_token",
        "enroll token",
      ],
    ] as [Command, Kind, string][]
  ) {
    const create = noun.command("create")
      .description(`Create an ${what}; it is printed once`)
      .requiredOption("--workspace <name>", "the workspace")
      .option("--data <dir>", "the embedded relay's state directory")
      .option("--store <url>", "postgres://… a cluster's store (or CMDOP_RELAY_STORE)")
      .option("--json", "print JSON");
    if (kind === "enroll_token") create.option("--ttl <duration>", "expire after, e.g. 24h");
    create.action(async (opts: Record<string, unknown>) => {
      const { parseDuration } = await import("./duration.ts");
      const ttl = typeof opts.ttl === "string" ? parseDuration(opts.ttl, "--ttl", "h") : undefined;
      await (await load()).runCredentialCreate(ctx, kind, {
        ...options(opts as { workspace: string }),
        ttlMs: ttl,
      });
    });
    noun.command("revoke")
      .description(`Revoke an ${what} by its fingerprint (from relay key list)`)
      .argument("<fingerprint>")
      .requiredOption("--workspace <name>", "the workspace")
      .option("--data <dir>", "the embedded relay's state directory")
      .option("--store <url>", "postgres://… a cluster's store (or CMDOP_RELAY_STORE)")
      .option("--json", "print JSON")
      .action(async (fingerprint: string, opts: Record<string, unknown>) =>
        await (await load()).runCredentialRevoke(
          ctx,
          kind,
          fingerprint,
          options(opts as { workspace: string }),
        )
      );
  }
  relay.command("machine").description("Manage a workspace's machines")
    .command("remove")
    .description("Remove a machine: its credential, share links and names go with it")
    .argument("<machine-id>")
    .requiredOption("--workspace <name>", "the workspace")
    .option("--data <dir>", "the embedded relay's state directory")
    .option("--store <url>", "postgres://… a cluster's store (or CMDOP_RELAY_STORE)")
    .option("--json", "print JSON")
    .action(async (machineId, opts) =>
      await (await load()).runMachineRemove(ctx, machineId, options(opts))
    );
  relay.command("audit")
    .description("Read the audit log from the relay's store: one workspace, or all of them")
    .option("--workspace <name>", "only this workspace (every workspace when left out)")
    .option("--data <dir>", "the embedded relay's state directory")
    .option("--store <url>", "postgres://… a cluster's store (or CMDOP_RELAY_STORE)")
    .option("--machine <host>", "only events of this machine (hostname or id)")
    .option("--since <when>", "since a duration ago (24h, 7d) or a date", "24h")
    .option("--limit <n>", "at most this many events, the oldest first", "1000")
    .option("--json", "JSON lines, with each event's workspace_id when no --workspace is given")
    .action(async (opts) => {
      const { runRelayAudit } = await loadServerVerb("relayAudit");
      await runRelayAudit(ctx, { ...opts, json: opts.json === true });
    });
}

/** The help of `relay workspace machine-clients`: what the setting lets a machine do. */
const MACHINE_CLIENTS_HELP = `
A machine whose labels match an --allow-from selector may run cmdop connect exec,
connect --list and cmdop mcp against the machines of its own workspace with its agent's
credential (--machine-credential /var/lib/cmdop-agent/agent.json): list machines, exec,
attach, unlock with an attach password. With --reach, only the machines matching one of
its selectors (itself included) are listed or reached; to the caller the others do not
exist. Never anything of another workspace, never keys, share links or machine removal.
Off by default; set replaces the whole setting, clear empties it, and both take effect on
the machine's next call (running sessions end within 2 s).`;

/**
 * `cmdop relay workspace machine-clients show|set|clear NAME`: which machines of the
 * workspace may act as its clients with their machine credential.
 *
 * @example
 * ```ts
 * registerMachineClientCommands(relay.command("workspace"), ctx);
 * ```
 */
export function registerMachineClientCommands(workspace: Command, ctx: CliContext): void {
  const noun = workspace.command("machine-clients")
    .description("Show, set or clear which machines may act as clients of the workspace")
    .addHelpText("after", MACHINE_CLIENTS_HELP);
  const load = () => loadServerVerb("machineClients");
  const verb = (name: string, description: string) =>
    noun.command(name)
      .description(description)
      .argument("<workspace>", "the workspace's name")
      .option("--data <dir>", "the embedded relay's state directory")
      .option("--store <url>", "postgres://… a cluster's store (or CMDOP_RELAY_STORE)")
      .option("--json", "print JSON");
  const options = (name: string, opts: { data?: string; store?: string; json?: true }) => ({
    workspace: name,
    data: opts.data,
    store: opts.store,
    json: opts.json === true,
  });
  verb("show", "Print the selectors of the machines allowed and reached (none by default)")
    .action(async (name, opts) =>
      await (await load()).runMachineClientsShow(ctx, options(name, opts))
    );
  verb("set", "Allow machines whose labels match a selector (replaces the setting)")
    .option(
      "--allow-from <key=value[,…]>",
      "a selector: every label must match (repeatable; any selector may match)",
      collectValues,
    )
    .option(
      "--reach <key=value[,…]>",
      "only machines matching a selector may be reached (repeatable; default: every machine)",
      collectValues,
    )
    .action(async (name, opts) => {
      const module = await load();
      const setting = module.parseMachineClients(opts.allowFrom ?? [], opts.reach ?? []);
      await module.runMachineClientsSet(ctx, setting, options(name, opts));
    });
  verb("clear", "Let no machine act as a client (the default)")
    .action(async (name, opts) =>
      await (await load()).runMachineClientsClear(ctx, options(name, opts))
    );
}

/** The help of `relay workspace recording`: what is recorded, and where. */
const RECORDING_HELP = `
When on, the relay records each terminal (attach) session of the workspace as an asciicast
v2 file (output and window resizes; never the keys typed) and each exec session's command
line, output (stdout and stderr apart, up to relay serve's --recording-exec-output) and exit
status. Users are told on stderr when their session is recorded. Members list and replay the
recordings with cmdop connect sessions and cmdop connect replay ID. Off by default; the
change applies to sessions that start afterwards.`;

/**
 * `cmdop relay workspace recording show|on|off NAME`: whether the relay records the
 * workspace's sessions.
 *
 * @example
 * ```ts
 * registerRecordingCommands(relay.command("workspace"), ctx);
 * ```
 */
export function registerRecordingCommands(workspace: Command, ctx: CliContext): void {
  const noun = workspace.command("recording")
    .description("Show, or turn on or off, the recording of a workspace's sessions")
    .addHelpText("after", RECORDING_HELP);
  const load = () => loadServerVerb("recording");
  const verb = (name: string, description: string) =>
    noun.command(name)
      .description(description)
      .argument("<workspace>", "the workspace's name")
      .option("--data <dir>", "the embedded relay's state directory")
      .option("--store <url>", "postgres://… a cluster's store (or CMDOP_RELAY_STORE)")
      .option("--json", "print JSON");
  const options = (name: string, opts: { data?: string; store?: string; json?: true }) => ({
    workspace: name,
    data: opts.data,
    store: opts.store,
    json: opts.json === true,
  });
  verb("show", "Print whether the workspace's sessions are recorded (off by default)")
    .action(async (name, opts) => await (await load()).runRecordingShow(ctx, options(name, opts)));
  verb("on", "Record the workspace's terminal and exec sessions from now on")
    .action(async (name, opts) =>
      await (await load()).runRecordingSet(ctx, true, options(name, opts))
    );
  verb("off", "Stop recording the workspace's sessions (the default)")
    .action(async (name, opts) =>
      await (await load()).runRecordingSet(ctx, false, options(name, opts))
    );
}
