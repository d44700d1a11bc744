/** Registers the operator's credential and machine verbs under `cmdop relay`: key, enroll-token, machine. */
import type { Command } from "@commander-js/extra-typings";
import type { CliContext } from "./context.ts";

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
  const load = () => import("./commands/relay/credentials.ts");

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
}
