/** `cmdop connect forward`: its flags and help; the work is in forward.ts, loaded when the verb runs. */
import type { Command } from "@commander-js/extra-typings";
import type { CliContext } from "../../context.ts";
import type { RunState } from "../../globals.ts";
import { globalsOf } from "../../command_options.ts";

/** Registers `cmdop connect forward HOST [BIND:]LOCALPORT:REMOTEHOST:REMOTEPORT`. */
export function registerForwardCommand(
  connect: Command<unknown[], Record<string, unknown>>,
  ctx: CliContext,
  state: RunState,
): void {
  connect.command("forward")
    .description("Forward a local port to a host and port reached from a machine (like ssh -L)")
    .usage("[options] <host> [bind:]<localport>:<remotehost>:<remoteport>")
    .argument("[host]", "the machine (left out with --link-file or CMDOP_SHARE_LINK)")
    .argument("[spec]", "[bind:]localport:remotehost:remoteport; localport 0 picks a free one")
    .option("--bind <address>", "listen on this address instead of 127.0.0.1")
    .option("--link-file <file>", "a file holding a share link: the machine it reaches")
    .option(
      "--max-connections <n>",
      "connections carried at once; more wait to be accepted",
      "64",
    )
    .addHelpText(
      "after",
      `
Listens on 127.0.0.1 (only the local user's programs can connect) unless --bind
or a bind address in the spec says otherwise. Each accepted connection is its
own session through the relay: the machine connects to remotehost:remoteport
and bytes flow both ways with the same flow control as exec; a half-close on
either side reaches the other. Runs until interrupted (Ctrl-C).

With --json, one line {"listen": "127.0.0.1:PORT", ...} is printed on stdout
once the port is open, and nothing else.`,
    )
    .action(async (host, spec, opts, command) => {
      const { linkFile } = command.optsWithGlobals() as { linkFile?: string };
      const { runForward } = await import("./forward.ts");
      await runForward(ctx, globalsOf(command), state, {
        host,
        spec,
        bind: opts.bind,
        linkFile,
        maxConnections: opts.maxConnections,
      });
    });
}
