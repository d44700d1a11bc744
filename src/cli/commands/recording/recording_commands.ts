/** `cmdop connect sessions` and `cmdop connect replay`: their flags and help; the work is in sessions.ts and replay.ts, loaded when a verb runs. */
import type { Command } from "@commander-js/extra-typings";
import type { CliContext } from "../../context.ts";
import type { RunState } from "../../globals.ts";
import { globalsOf } from "../../command_options.ts";

/** Registers `cmdop connect sessions [--machine H] [--since 7d]` and `cmdop connect replay ID`. */
export function registerRecordingCommands(
  connect: Command<unknown[], Record<string, unknown>>,
  ctx: CliContext,
  state: RunState,
): void {
  connect.command("sessions")
    .description("List the workspace's recorded sessions (when its relay records them)")
    .option("--machine <host>", "only sessions on this machine (hostname or id, removed ones too)")
    .option("--since <when>", "sessions started since a duration ago (24h, 7d) or a date", "7d")
    .option("--limit <n>", "at most this many, the newest first", "100")
    .addHelpText(
      "after",
      `
A table of id, machine, who (API key fingerprint, login user, share or machine), kind
(pty, or exec with its command), start, duration and size; with --json, one JSON object
per line. A relay operator turns recording on per workspace (cmdop relay workspace
recording on NAME); recordings are kept for the relay's --recording-retention (30 days
by default). Workspace members only: share links and machine credentials are refused.`,
    )
    .action(async (opts, command) => {
      const { runSessions } = await import("./sessions.ts");
      await runSessions(ctx, globalsOf(command), state, {
        machine: opts.machine,
        since: opts.since,
        limit: opts.limit,
      });
    });
  connect.command("replay")
    .description("Play a recorded session in this terminal at its real speed")
    .argument("<id>", "the recording's id (from cmdop connect sessions)")
    .option("--speed <factor>", "play this many times faster (0.5 is slower)", "1")
    .option("--idle-limit <seconds>", "shorten every pause to at most this long")
    .option("--raw", "write the asciicast v2 file itself (as when stdout is not a terminal)")
    .addHelpText(
      "after",
      `
A terminal session plays its output and keeps its pauses (divided by --speed, capped
by --idle-limit); an exec session plays stdout to stdout and stderr to stderr. Where
the recording left output out (its cap, or a relay that fell behind) a note says so on
stderr. With stdout not a terminal, or --raw, the recording is written as it is stored,
an asciicast v2 file that asciinema and its player read: cmdop connect replay ID >
s.cast && asciinema play s.cast.`,
    )
    .action(async (id, opts, command) => {
      const { runReplay } = await import("./replay.ts");
      await runReplay(ctx, globalsOf(command), state, {
        id,
        speed: opts.speed,
        idleLimit: opts.idleLimit,
        raw: opts.raw === true,
      });
    });
}
