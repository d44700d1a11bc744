/** runTerminalSession: the keyboard and screen of this terminal joined to a remote pty until it exits or the user leaves. */
import type { CliContext } from "../../context.ts";
import { sessionLost as lost } from "../../session_errors.ts";
import type { OpenedSession } from "../../session_client.ts";
import type { TerminalInput } from "../../ui/terminal_input.ts";
import { BareLineFeeds } from "../../ui/terminal_output.ts";

/** Ctrl-D: disconnects locally and is never sent (spec). */
export const DISCONNECT_KEY = 0x04;
/** After a local disconnect, how long to wait for the remote shell's exit before dropping the stream. */
const HANG_UP_WAIT_MS = 2_000;

/** How a terminal session ended. */
export type SessionEnd =
  | { kind: "exit"; code: number; signal: string; error: string }
  | { kind: "disconnected" }
  | { kind: "interrupted" };

/**
 * Splits typed input at the first Ctrl-D: what comes before it is sent, the
 * rest is dropped along with the key.
 *
 * @example
 * ```ts
 * splitAtDisconnect(new Uint8Array([0x6c, 0x73, 0x04, 0x0d])); // { send: "ls", disconnect: true }
 * ```
 */
export function splitAtDisconnect(chunk: Uint8Array): { send: Uint8Array; disconnect: boolean } {
  const at = chunk.indexOf(DISCONNECT_KEY);
  return at < 0
    ? { send: chunk, disconnect: false }
    : { send: chunk.subarray(0, at), disconnect: true };
}

/**
 * Forwards keystrokes (all of them, Ctrl-C included, except Ctrl-D) and
 * window resizes to the session and its output to stdout, crediting output
 * as it is written. The caller puts the terminal in raw mode. Resolves with
 * the remote exit, a local disconnect (Ctrl-D, end of input) or an
 * interruption (SIGTERM); a lost connection rejects with a CliError. A read-only session
 * (a read-only share link watching someone's terminal) sends no keystroke and no resize:
 * Ctrl-D still disconnects.
 *
 * @example
 * ```ts
 * const end = await runTerminalSession(ctx, session, input, "web-1");
 * ```
 */
export async function runTerminalSession(
  ctx: CliContext,
  session: OpenedSession,
  input: TerminalInput,
  hostname: string,
): Promise<SessionEnd> {
  const readOnly = session.ready.readOnly;
  const leave = Promise.withResolvers<SessionEnd>();
  const release = input.lend(async (chunk) => {
    if (chunk === null) return leave.resolve({ kind: "disconnected" });
    const { send, disconnect } = splitAtDisconnect(chunk);
    if (send.length > 0 && !readOnly) await session.write(send);
    if (disconnect) leave.resolve({ kind: "disconnected" });
  });
  const stopResizes = readOnly ? undefined : ctx.onTerminalResize?.(() => {
    const size = ctx.stdout.size();
    if (size) session.resize(size.rows, size.cols);
  });
  const onAbort = () => leave.resolve({ kind: "interrupted" });
  ctx.signal.addEventListener("abort", onAbort, { once: true });
  if (ctx.signal.aborted) onAbort();

  let discard = false;
  const feeds = ctx.stdout.isTerminal() ? new BareLineFeeds() : undefined;
  const remote = (async (): Promise<SessionEnd> => {
    for (;;) {
      let next;
      try {
        next = await session.frames.next();
      } catch (error) {
        throw lost(hostname, error);
      }
      if (next.done) throw lost(hostname);
      const msg = next.value.msg;
      if (msg.case === "output") {
        const data = msg.value.data;
        if (!discard) await ctx.stdout.write(feeds ? feeds.transform(data) : data);
        session.consumed(data.length);
      } else if (msg.case === "exit") {
        const { code, signal, error } = msg.value;
        return { kind: "exit", code, signal, error };
      }
    }
  })();

  try {
    const end = await Promise.race([remote, leave.promise]);
    if (end.kind !== "exit") {
      // Hang up and give the agent a moment to end the shell, so nothing is left running when we return.
      discard = true;
      session.close();
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        remote.catch(() => {}),
        new Promise((resolve) => timer = setTimeout(resolve, HANG_UP_WAIT_MS)),
      ]);
      clearTimeout(timer);
      session.abort();
    }
    return end;
  } finally {
    remote.catch(() => {});
    release();
    stopResizes?.();
    ctx.signal.removeEventListener("abort", onAbort);
  }
}
