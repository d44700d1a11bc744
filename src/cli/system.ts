/** systemContext: the real process behind a CliContext (the only CLI file that touches Deno's globals). */
import type { CliContext, InputStream, OutputStream } from "./context.ts";
import { Interrupted } from "./errors.ts";
import { resolveHome } from "../config/paths.ts";

/**
 * Writes to the process's stdout and stderr still in progress. Linux serialises a terminal's
 * mode changes with its writes: tcsetattr waits for a write that is blocked (a terminal nobody
 * reads), on the main thread, where no timer can end the wait. Mode changes wait for these instead.
 */
const inFlight = new Set<Promise<unknown>>();

/** Runs `change` now, or once the writes in progress are done (never on a blocked terminal). */
let pendingMode: (() => void) | undefined;
function whenWritesSettle(change: () => void): void {
  if (inFlight.size === 0) return change();
  pendingMode = change; // the latest wish wins: raw then cooked while blocked is just cooked
}

function output(file: typeof Deno.stdout | typeof Deno.stderr): OutputStream {
  const encoder = new TextEncoder();
  return {
    async write(data) {
      const bytes = typeof data === "string" ? encoder.encode(data) : data;
      let written = 0;
      while (written < bytes.length) {
        const writing = file.write(bytes.subarray(written));
        inFlight.add(writing);
        try {
          written += await writing;
        } finally {
          inFlight.delete(writing);
          if (inFlight.size === 0 && pendingMode) {
            const change = pendingMode;
            pendingMode = undefined;
            change();
          }
        }
      }
    },
    isTerminal: () => file.isTerminal(),
    size() {
      try {
        const { rows, columns } = Deno.consoleSize();
        return { rows, cols: columns };
      } catch {
        return undefined;
      }
    },
  };
}

/**
 * How long an interrupted run (SIGINT, SIGTERM) may take to end in order: longer than the
 * 2 s a terminal session gives the agent to hang up, short enough that a user's kill is obeyed.
 */
export const INTERRUPT_GRACE_MS = 5_000;

/**
 * Ends the process now with `code`, the terminal out of raw mode first (a no-op when it is not
 * in it) unless a write to it is blocked: then nobody reads it, and the change would block too.
 */
function leaveNow(code: number): never {
  try {
    if (inFlight.size === 0 && Deno.stdin.isTerminal()) Deno.stdin.setRaw(false);
  } catch {
    // Not a terminal any more: nothing to restore.
  }
  Deno.exit(code);
}

/** The CliContext of this process. */
export function systemContext(): CliContext {
  const abort = new AbortController();
  const stdin: InputStream = {
    get readable() {
      return Deno.stdin.readable;
    },
    isTerminal: () => Deno.stdin.isTerminal(),
    setRaw: (raw) => whenWritesSettle(() => Deno.stdin.setRaw(raw, { cbreak: false })),
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    try {
      Deno.addSignalListener(signal, () => {
        const reason = new Interrupted(signal);
        // A second signal while the first is being handled: leave now.
        if (abort.signal.aborted) leaveNow(reason.exitCode);
        abort.abort(reason);
        // The orderly way out (hang up, print the --json envelope, restore the terminal) writes to
        // stdout; a terminal or pipe that nobody reads blocks that write for good. Past the grace
        // the run ends anyway, with the same status.
        Deno.unrefTimer(setTimeout(() => leaveNow(reason.exitCode), INTERRUPT_GRACE_MS));
      });
    } catch {
      // Signals unsupported here (Windows SIGTERM): the default handling stays.
    }
  }
  const env = (name: string) => {
    try {
      return Deno.env.get(name);
    } catch {
      // Not permitted to read it: as good as unset.
      return undefined;
    }
  };
  let home: string | undefined;
  return {
    stdin,
    stdout: output(Deno.stdout),
    stderr: output(Deno.stderr),
    env,
    home: () => home ??= resolveHome(env),
    now: () => Date.now(),
    signal: abort.signal,
    onTerminalResize(listener) {
      try {
        Deno.addSignalListener("SIGWINCH", listener);
      } catch {
        return () => {}; // No SIGWINCH here (Windows): sizes are read once.
      }
      return () => Deno.removeSignalListener("SIGWINCH", listener);
    },
  };
}
