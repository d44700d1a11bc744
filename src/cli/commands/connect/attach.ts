/** `cmdop connect [host]` and `cmdop terminal [host]`: a machine's terminal, through the picker when no host is named. */
import type { Machine } from "../../../../gen/cmdop/v1/machine_pb.ts";
import { SessionKind } from "../../../../gen/cmdop/v1/session_pb.ts";
import type { CliContext } from "../../context.ts";
import { CliError, ExitRequest, interruptedExitCode } from "../../errors.ts";
import type { GlobalOptions, RunState } from "../../globals.ts";
import { passwordSource } from "../../machine_password.ts";
import { connectRelay, type RelayConnection } from "../../relay_client.ts";
import { requireOnline } from "../../resolve_machine.ts";
import { toCliError } from "../../error_mapping.ts";
import type { PasswordSource } from "../../session_client.ts";
import { openResumableSession, type ResumeEvents } from "../../resumable_session.ts";
import { readSuppliedLink } from "../../share_link_input.ts";
import { resolveTarget } from "../../target.ts";
import { orderMachines } from "../../ui/machine_choices.ts";
import { confirmMachine, pickMachine, promptPassword } from "../../ui/machine_picker.ts";
import { TerminalInput } from "../../ui/terminal_input.ts";
import { runPipedShell } from "./attach_pipe.ts";
import { runTerminalSession, type SessionEnd } from "./attach_session.ts";
import { type RecentMachines, recentMachines } from "./recent_machines.ts";

/** What `cmdop connect [hostname]` and `cmdop terminal [host]` were given. */
export interface AttachOptions {
  /** Hostname, display name, unique prefix, UUID or share link; the picker when absent. */
  host?: string;
  /** A file holding the share link to attach through, instead of a host. */
  linkFile?: string;
}

const HOST_HINT = "name the machine: cmdop connect <hostname>, or give a share link with " +
  "--link-file FILE or CMDOP_SHARE_LINK";
/** Exit status after Ctrl-C in a prompt, or 128 + the signal's number after SIGINT or SIGTERM. */
const interrupted = (ctx: CliContext) => ctx.signal.aborted ? interruptedExitCode(ctx.signal) : 130;

/**
 * Attaches to `options.host`, exiting with the remote shell's status; with no
 * host, loops picker → confirm → attach until the picker is cancelled. With
 * stdin not a terminal it pipes stdin to the remote shell instead (`ssh -T`).
 *
 * @example
 * ```ts
 * await runAttach(ctx, globals, state, { host: "web-1" }); // throws ExitRequest(status)
 * ```
 */
export async function runAttach(
  ctx: CliContext,
  globals: GlobalOptions,
  state: RunState,
  options: AttachOptions,
): Promise<void> {
  const terminal = ctx.stdin.isTerminal();
  // A share link from --link-file or CMDOP_SHARE_LINK names the machine as a host would.
  const target = (await readSuppliedLink(ctx, options.host, options.linkFile)) ?? options.host;
  if (!target && !globals.interactive) {
    throw new CliError("no machine given, and --no-interactive rules out the picker", {
      hint: HOST_HINT,
    });
  }
  if (!target && !terminal) {
    throw new CliError("no machine given, and the picker needs a terminal (stdin is not one)", {
      hint: HOST_HINT,
    });
  }
  try {
    if (target) {
      // A host name or a share link: resolveTarget knows both.
      const { conn, machine } = await resolveTarget(ctx, globals, state, target);
      const recent = recentMachines(ctx, conn.relayWorkspace?.id || conn.server);
      await recent.touch(machine.id);
      if (!terminal) {
        throw new ExitRequest(
          await runPipedShell(ctx, conn, machine, passwords(ctx, globals, conn, machine)),
        );
      }
      const input = new TerminalInput(ctx.stdin.readable);
      const end = await attach(ctx, globals, conn, machine, input, recent);
      if (end.kind === "exit") throw new ExitRequest(end.code);
      if (end.kind === "interrupted") throw new ExitRequest(interrupted(ctx));
      return;
    }
    const conn = await connectRelay(ctx, globals, state);
    const input = new TerminalInput(ctx.stdin.readable);
    await pickAndAttach(ctx, globals, state, conn, input);
  } catch (error) {
    // Interrupted (SIGINT, SIGTERM) before or between sessions: quietly, as a shell would.
    if (ctx.signal.aborted && !(error instanceof ExitRequest)) {
      throw new ExitRequest(interrupted(ctx));
    }
    throw error;
  }
}

/** The picker loop: every attach it starts comes back to it, however it ends. */
async function pickAndAttach(
  ctx: CliContext,
  globals: GlobalOptions,
  state: RunState,
  conn: RelayConnection,
  input: TerminalInput,
): Promise<never> {
  for (;;) {
    const listing = await conn.machines.listMachines({}, { signal: ctx.signal });
    if (listing.machines.length === 0) {
      throw new CliError("no machines in this workspace yet", {
        hint:
          "enroll one with: cmdop agent run --server <url> --enroll-token <token> --state <dir>",
      });
    }
    const recent = recentMachines(ctx, listing.workspaceId || conn.server);
    let machine: Machine;
    try {
      machine = await pickMachine(
        ctx,
        input,
        orderMachines(listing.machines, await recent.order()),
      );
      if (!(await confirmMachine(ctx, input, machine))) continue;
    } catch (error) {
      if (isPromptCancel(error)) throw new ExitRequest(interrupted(ctx));
      throw error;
    }
    try {
      requireOnline(machine);
      const end = await attach(ctx, globals, conn, machine, input, recent);
      if (end.kind === "interrupted") throw new ExitRequest(interrupted(ctx));
    } catch (error) {
      if (error instanceof ExitRequest) throw error;
      if (ctx.signal.aborted) throw new ExitRequest(interrupted(ctx));
      // A machine that went away or a wrong password is no reason to leave the picker.
      const problem = isPromptCancel(error) ? new CliError("cancelled") : toCliError(error, state);
      const hint = problem.hint ? `\nhint: ${problem.hint}` : "";
      await ctx.stderr.write(`error: ${problem.message}${hint}\n`);
    }
  }
}

/** Opens a terminal session on `machine` and runs it in raw mode; the local terminal is restored however it ends. */
async function attach(
  ctx: CliContext,
  globals: GlobalOptions,
  conn: RelayConnection,
  machine: Machine,
  input: TerminalInput,
  recent: RecentMachines,
): Promise<SessionEnd> {
  // The real size from the start (a shell drawn at 80x24 and then resized shows it); 80x24 only if unknown.
  const size = ctx.stdout.size() ?? { rows: 24, cols: 80 };
  const session = await openResumableSession(
    conn,
    {
      machineId: machine.id,
      kind: SessionKind.PTY,
      term: ctx.env("TERM") || "xterm-256color",
      rows: size.rows,
      cols: size.cols,
    },
    passwords(ctx, globals, conn, machine, input),
    ctx.signal,
    reconnectNotice(ctx, machine.hostname),
  );
  await recent.touch(machine.id);
  const where = `"${machine.hostname}"`;
  let end: SessionEnd;
  ctx.stdin.setRaw(true);
  try {
    // Raw mode first: a key typed right after this line is read as a key, not echoed by the local terminal.
    if (session.ready.readOnly) {
      // Said whatever stderr is: nothing typed here reaches the machine.
      await ctx.stderr.write(
        `read-only: watching a terminal on ${where}; keys are not sent, Ctrl-D leaves\r\n`,
      );
    } else if (ctx.stderr.isTerminal()) {
      await ctx.stderr.write(`attached to ${where}; Ctrl-D disconnects\r\n`);
    }
    end = await runTerminalSession(ctx, session, input, machine.hostname);
  } finally {
    ctx.stdin.setRaw(false);
  }
  if (end.kind === "exit") {
    if (end.error) await ctx.stderr.write(`error: ${end.error}\n`);
    const status = end.code === 0 ? "" : ` (exit status ${end.code})`;
    await ctx.stderr.write(`connection to ${where} closed${status}\n`);
  } else if (end.kind === "disconnected") {
    await ctx.stderr.write(`\r\ndisconnected from ${where}\n`);
  }
  return end;
}

/**
 * While a dropped connection is being resumed, one line says so: on the terminal's last row
 * in reverse video (the cursor put back where it was), or on stderr when stdout is not a
 * terminal. It is wiped once the session is back.
 */
function reconnectNotice(ctx: CliContext, hostname: string): ResumeEvents {
  const onScreen = ctx.stdout.isTerminal();
  let row = 0;
  return {
    async lost(reason, deadline) {
      const minutes = Math.max(1, Math.round((deadline - ctx.now()) / 60_000));
      const text = `cmdop: connection to "${hostname}" lost (${reason}); reconnecting, ` +
        `the terminal is kept for ${minutes} min`;
      if (!onScreen) return await ctx.stderr.write(`\r\n${text}\r\n`);
      const size = ctx.stdout.size() ?? { rows: 24, cols: 80 };
      row = size.rows;
      await ctx.stdout.write(
        `\x1b7\x1b[${row};1H\x1b[2K\x1b[7m${text.slice(0, size.cols)}\x1b[0m\x1b8`,
      );
    },
    async resumed() {
      if (!onScreen) {
        return await ctx.stderr.write(`cmdop: resumed the terminal on "${hostname}"\r\n`);
      }
      await ctx.stdout.write(`\x1b7\x1b[${row};1H\x1b[2K\x1b8`);
    },
  };
}

/** A remembered password first; otherwise a prompt read through `input` (not a second reader of stdin). */
function passwords(
  ctx: CliContext,
  globals: GlobalOptions,
  conn: RelayConnection,
  machine: Machine,
  input?: TerminalInput,
): PasswordSource {
  const remembered = passwordSource(ctx, { ...globals, interactive: false }, conn, machine);
  return async (machineId) => {
    const known = await remembered(machineId);
    if (known !== undefined || !input || !globals.interactive) return known;
    return await promptPassword(ctx, input, machine);
  };
}

function isPromptCancel(error: unknown): boolean {
  return error instanceof Error &&
    (error.name === "ExitPromptError" || error.name === "AbortPromptError");
}
