/** `cmdop connect audit`: its flags and help; the work is in list.ts, loaded when the verb runs. */
import type { Command } from "@commander-js/extra-typings";
import type { CliContext } from "../../context.ts";
import type { RunState } from "../../globals.ts";
import { globalsOf } from "../../command_options.ts";

/** Registers `cmdop connect audit [--machine H] [--since 24h] [--limit N]`. */
export function registerAuditCommand(
  connect: Command<unknown[], Record<string, unknown>>,
  ctx: CliContext,
  state: RunState,
): void {
  connect.command("audit")
    .description("Show the workspace's audit log: sessions, shares, keys, logins, passwords")
    .option("--machine <host>", "only events of this machine (hostname or id, removed ones too)")
    .option("--since <when>", "events since a duration ago (24h, 30m, 7d) or a date", "24h")
    .option("--limit <n>", "at most this many events, the oldest first", "1000")
    .addHelpText(
      "after",
      `
A table of time, who (API key fingerprint, login user, share or machine), from which
address, which machine, what and its result; with --json, one JSON object per line,
oldest first: the export for a SIEM. Workspace members only: share links and machine
credentials are refused. Secrets are never recorded.`,
    )
    .action(async (opts, command) => {
      const { runAudit } = await import("./list.ts");
      await runAudit(ctx, globalsOf(command), state, {
        machine: opts.machine,
        since: opts.since,
        limit: opts.limit,
      });
    });
}
