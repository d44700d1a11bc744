/** `cmdop connect exec <host> -- <cmd...>`: one command, its output streams apart, its exit status. */
// Plain constants: the generated module would load protobuf-es (~20 ms) for two enums.
import { concatBytes } from "../../../lib/bytes.ts";
import { OUTPUT_STREAM, SESSION_KIND } from "../../../lib/wire/session_codec.ts";
import type { CliContext } from "../../context.ts";
import { CliError, ExitRequest, interruptedExitCode } from "../../errors.ts";
import type { GlobalOptions, RunState } from "../../globals.ts";
import { passwordSource } from "../../machine_password.ts";
import { readSuppliedLink } from "../../share_link_input.ts";
import { resolveTarget } from "../../target.ts";
import type { OpenedSession } from "../../session_client.ts";
import { openResumableSession, type ResumeEvents } from "../../resumable_session.ts";
import { parseDuration } from "../../duration.ts";

export interface ExecOptions {
  /** A machine name, or a share link (with a warning); none with `linkFile` or CMDOP_SHARE_LINK. */
  host?: string;
  /** A file holding the share link to use instead of a host. */
  linkFile?: string;
  argv: string[];
  /** Seconds, or a duration like "90s" / "5m"; 0 = no limit. Default 30 s. */
  timeout?: string;
  /** Run the words joined as one `sh -c` command line on the machine, as ssh does. */
  shell?: boolean;
}

/**
 * The argv the machine runs: the words as given (no shell, so nothing is expanded),
 * or with `shell` one `sh -c` line of them joined by spaces, as ssh runs a command.
 *
 * @example
 * ```ts
 * remoteArgv({ host: "web", argv: ["ps", "aux", "|", "grep", "x"], shell: true });
 * // ["sh", "-c", "ps aux | grep x"]
 * ```
 */
export function remoteArgv(options: ExecOptions): string[] {
  return options.shell ? ["sh", "-c", options.argv.join(" ")] : options.argv;
}

/** Words that only mean something to a shell: `$`, pipes, redirections, globs, quotes. */
const SHELL_SYNTAX = /[\s$|&;<>()`'"*?~{}]/;

/** How long past the remote timeout the client waits for the relay's word before giving up. */
const CLIENT_GRACE_MS = 10_000;

/** Runs the command remotely and ends with its exit status. */
export async function runExec(
  ctx: CliContext,
  globals: GlobalOptions,
  state: RunState,
  options: ExecOptions,
): Promise<never> {
  const started = ctx.now();
  const collected = { stdout: [] as Uint8Array[], stderr: [] as Uint8Array[] };
  const decoder = new TextDecoder();
  // The spec's envelope on every path, errors included: runCli adds exit_code and error.
  const envelope = (): Record<string, unknown> => ({
    stdout: decoder.decode(concatBytes(collected.stdout)),
    stderr: decoder.decode(concatBytes(collected.stderr)),
    exit_code: null,
    duration_ms: ctx.now() - started,
  });
  if (globals.json) state.jsonEnvelope = envelope;
  const timeoutMs = parseDuration(options.timeout ?? "30", "--timeout", "s");
  const supplied = await readSuppliedLink(ctx, options.host, options.linkFile);
  const target = supplied ?? options.host;
  if (target === undefined) {
    throw new CliError("no machine given", {
      hint: "name it: cmdop connect exec HOST -- CMD; or give a share link with " +
        "--link-file FILE or CMDOP_SHARE_LINK",
    });
  }
  if (options.argv.length === 0) {
    throw new CliError("no command given", {
      hint: "put it after --: cmdop connect exec HOST -- CMD",
    });
  }
  const { conn, machine } = await resolveTarget(ctx, globals, state, target);

  // Kept by the agent through a dropped connection, and resumed: the command runs on meanwhile.
  const session = await openResumableSession(
    conn,
    {
      machineId: machine.id,
      kind: SESSION_KIND.EXEC,
      argv: remoteArgv(options),
      timeoutMs,
    },
    passwordSource(ctx, globals, conn, machine),
    ctx.signal,
    resumeNotes(ctx, machine.hostname),
  ).catch((error) => {
    throw withoutShellHint(error, options);
  });
  forwardStdin(ctx, session);

  // AbortSignal.timeout rather than setTimeout, whose first call loads Node's timers (~3 ms).
  const guard = timeoutMs > 0 ? AbortSignal.timeout(timeoutMs + CLIENT_GRACE_MS) : undefined;
  const onGuard = () => session.abort();
  guard?.addEventListener("abort", onGuard, { once: true });
  const onInterrupt = () => session.close();
  ctx.signal.addEventListener("abort", onInterrupt, { once: true });
  let exit;
  try {
    for (;;) {
      const next = await session.frames.next();
      if (next.done) break;
      const msg = next.value.msg;
      if (msg.case === "output") {
        const stderr = msg.value.stream === OUTPUT_STREAM.STDERR;
        if (globals.json) (stderr ? collected.stderr : collected.stdout).push(msg.value.data);
        else await (stderr ? ctx.stderr : ctx.stdout).write(msg.value.data);
        session.consumed(msg.value.data.length);
      } else if (msg.case === "exit") {
        exit = msg.value;
        break;
      }
    }
  } catch (error) {
    if (ctx.signal.aborted) throw await interrupted(ctx, globals, state);
    throw error;
  } finally {
    guard?.removeEventListener("abort", onGuard);
    ctx.signal.removeEventListener("abort", onInterrupt);
  }
  if (!exit) {
    if (ctx.signal.aborted) throw await interrupted(ctx, globals, state);
    throw new CliError(`no answer from "${machine.hostname}" within the timeout`);
  }
  const where = `"${machine.hostname}"`;
  const timeoutText = `command timed out after ${timeoutMs / 1000}s on ${where}; ` +
    "the remote process group was killed";
  if (globals.json) {
    state.jsonEnvelope = undefined;
    const result = { ...envelope(), exit_code: exit.timedOut ? null : exit.code };
    if (exit.timedOut) Object.assign(result, { timed_out: true, error: timeoutText });
    else if (exit.error) Object.assign(result, { error: exit.error });
    await ctx.stdout.write(JSON.stringify(result) + "\n");
  }
  if (exit.timedOut) {
    await ctx.stderr.write(`error: ${timeoutText}\nhint: raise it with --timeout\n`);
    throw new ExitRequest(1);
  }
  if (exit.error) await ctx.stderr.write(`error: ${exit.error}\n`);
  throw new ExitRequest(exit.code);
}

/** The run was interrupted (SIGINT, SIGTERM): exit 128 + the signal, the envelope still printed with --json. */
async function interrupted(
  ctx: CliContext,
  globals: GlobalOptions,
  state: RunState,
): Promise<ExitRequest> {
  const exitCode = interruptedExitCode(ctx.signal);
  if (globals.json && state.jsonEnvelope) {
    const reason = ctx.signal.reason instanceof Error ? ctx.signal.reason.message : "interrupted";
    const result = { ...state.jsonEnvelope(), exit_code: exitCode, error: reason };
    state.jsonEnvelope = undefined;
    await ctx.stdout.write(JSON.stringify(result) + "\n");
  }
  return new ExitRequest(exitCode);
}

/**
 * A command that did not start (127: not found) because it was written for a shell
 * (`'echo $HOME'`, `a | b`) gets a hint: commands run as argv, `--shell` runs sh -c.
 */
function withoutShellHint(error: unknown, options: ExecOptions): unknown {
  if (!(error instanceof CliError) || error.exitCode !== 127 || options.shell) return error;
  const shellish = options.argv.some((word) => SHELL_SYNTAX.test(word));
  return new CliError(error.message, {
    exitCode: error.exitCode,
    hint: shellish
      ? "the command runs directly, not through a shell, so quotes, $variables and pipes " +
        "are not interpreted: add --shell to run it with sh -c on the machine"
      : "is it installed on the machine and on its PATH? For a shell built-in or a " +
        "command line, add --shell (sh -c on the machine)",
    cause: error,
  });
}

/** Piped stdin goes to the remote command; a terminal does not (use attach for that). */
function forwardStdin(ctx: CliContext, session: OpenedSession): void {
  if (ctx.stdin.isTerminal()) {
    session.endInput();
    return;
  }
  (async () => {
    try {
      for await (const chunk of ctx.stdin.readable) await session.write(chunk);
    } catch {
      // Closed or unreadable stdin is simply the end of input.
    }
    session.endInput();
  })();
}

/** What stderr says while a dropped connection is resumed (the command's own output is apart). */
function resumeNotes(ctx: CliContext, hostname: string): ResumeEvents {
  return {
    lost: (reason, deadline) =>
      ctx.stderr.write(
        `cmdop: connection to "${hostname}" lost (${reason}); reconnecting, the command is ` +
          `kept for ${Math.max(1, Math.round((deadline - ctx.now()) / 60_000))} min\n`,
      ),
    resumed: () => ctx.stderr.write(`cmdop: resumed the command on "${hostname}"\n`),
  };
}
