/** runPipedShell: `cmdop connect HOST` with stdin not a terminal, like `ssh -T`: the remote shell reads commands from our stdin. */
import type { Machine } from "../../../../gen/cmdop/v1/machine_pb.ts";
import { OutputStream, SessionKind } from "../../../../gen/cmdop/v1/session_pb.ts";
import type { CliContext } from "../../context.ts";
import { interruptedExitCode } from "../../errors.ts";
import type { RelayConnection } from "../../relay_client.ts";
import { type OpenedSession, openSession, type PasswordSource } from "../../session_client.ts";
import { isConnectError } from "../../../lib/connect_errors.ts";
import { sessionLost } from "../../session_errors.ts";

/**
 * The user's shell as a login shell without a terminal, as sshd starts it for
 * `ssh -T`: the agent's `SHELL` when it is executable, else /bin/sh.
 */
export const PIPED_SHELL_ARGV = [
  "/bin/sh",
  "-c",
  'shell="${SHELL:-/bin/sh}"; [ -x "$shell" ] || shell=/bin/sh; exec "$shell" -l',
];

/**
 * Runs the remote login shell without a pty: our stdin is its stdin (end of
 * input ends it), its stdout and stderr are ours, byte for byte, and the
 * result is its exit status. No raw mode, no Ctrl-D handling: the bytes are
 * the user's data.
 *
 * @example
 * ```ts
 * const code = await runPipedShell(ctx, conn, machine, passwords);
 * ```
 */
export async function runPipedShell(
  ctx: CliContext,
  conn: RelayConnection,
  machine: Machine,
  passwords: PasswordSource,
): Promise<number> {
  let session;
  try {
    session = await openSession(
      conn,
      {
        machineId: machine.id,
        kind: SessionKind.EXEC,
        argv: PIPED_SHELL_ARGV,
        timeoutMs: 0,
      },
      passwords,
      ctx.signal,
    );
  } catch (error) {
    // A read-only share link runs nothing, but it can watch: its owner's terminal, to stdout.
    if (!isConnectError(error) || error.metadata.get("cmdop-reason") !== "read-only") throw error;
    session = await openSession(
      conn,
      { machineId: machine.id, kind: SessionKind.PTY, rows: 24, cols: 80 },
      passwords,
      ctx.signal,
    );
  }
  if (session.ready.readOnly) {
    await ctx.stderr.write(
      `read-only: watching a terminal on "${machine.hostname}"; stdin is not sent\n`,
    );
  } else {
    pumpStdin(ctx, session);
  }
  return await relayOutput(ctx, session, machine);
}

/** Our stdin to the remote shell, to its end. */
function pumpStdin(ctx: CliContext, session: OpenedSession): void {
  (async () => {
    try {
      for await (const chunk of ctx.stdin.readable) await session.write(chunk);
    } catch {
      // Unreadable stdin is the end of input, as a closed pipe would be.
    }
    session.endInput();
  })();
}

/** The session's output to our stdout and stderr until it exits; its exit status. */
async function relayOutput(
  ctx: CliContext,
  session: OpenedSession,
  machine: Machine,
): Promise<number> {
  const onAbort = () => session.close();
  ctx.signal.addEventListener("abort", onAbort, { once: true });
  try {
    for (;;) {
      let next;
      try {
        next = await session.frames.next();
      } catch (error) {
        if (ctx.signal.aborted) return interruptedExitCode(ctx.signal);
        throw sessionLost(machine.hostname, error);
      }
      if (next.done) {
        if (ctx.signal.aborted) return interruptedExitCode(ctx.signal);
        throw sessionLost(machine.hostname);
      }
      const msg = next.value.msg;
      if (msg.case === "output") {
        const out = msg.value.stream === OutputStream.STDERR ? ctx.stderr : ctx.stdout;
        await out.write(msg.value.data);
        session.consumed(msg.value.data.length);
      } else if (msg.case === "exit") {
        if (msg.value.error) await ctx.stderr.write(`error: ${msg.value.error}\n`);
        return msg.value.code;
      }
    }
  } finally {
    ctx.signal.removeEventListener("abort", onAbort);
  }
}
