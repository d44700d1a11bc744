/** systemContext: the real process behind a CliContext (the only CLI file that touches Deno's globals). */
import type { CliContext, InputStream, OutputStream } from "./context.ts";
import { Interrupted } from "./errors.ts";

function output(file: typeof Deno.stdout | typeof Deno.stderr): OutputStream {
  const encoder = new TextEncoder();
  return {
    async write(data) {
      const bytes = typeof data === "string" ? encoder.encode(data) : data;
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
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

/** The CliContext of this process. */
export function systemContext(): CliContext {
  const abort = new AbortController();
  const stdin: InputStream = {
    get readable() {
      return Deno.stdin.readable;
    },
    isTerminal: () => Deno.stdin.isTerminal(),
    setRaw: (raw) => Deno.stdin.setRaw(raw, { cbreak: false }),
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    try {
      Deno.addSignalListener(signal, () => {
        const reason = new Interrupted(signal);
        // A second signal while the first is being handled: leave now.
        if (abort.signal.aborted) Deno.exit(reason.exitCode);
        abort.abort(reason);
      });
    } catch {
      // Signals unsupported here (Windows SIGTERM): the default handling stays.
    }
  }
  return {
    stdin,
    stdout: output(Deno.stdout),
    stderr: output(Deno.stderr),
    env: (name) => {
      try {
        return Deno.env.get(name);
      } catch {
        // Not permitted to read it: as good as unset.
        return undefined;
      }
    },
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
