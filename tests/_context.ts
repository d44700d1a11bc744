/** A CliContext for tests that drive the client in-process rather than as a subprocess. */
import type { CliContext } from "../src/cli/context.ts";
import { resolveHome } from "../src/config/paths.ts";

/**
 * No terminal, no environment (so no config folder: `home()` fails as it would for a user
 * without HOME), output dropped, the real clock, never cancelled.
 *
 * @example
 * ```ts
 * const conn = await openRelayConnection(silentContext(), {}, target);
 * ```
 */
export function silentContext(): CliContext {
  const dropped = {
    write: () => Promise.resolve(),
    isTerminal: () => false,
    size: () => undefined,
  };
  return {
    stdin: { readable: new ReadableStream(), isTerminal: () => false, setRaw: () => {} },
    stdout: dropped,
    stderr: dropped,
    env: () => undefined,
    home: () => resolveHome(() => undefined),
    now: Date.now,
    signal: new AbortController().signal,
  };
}
