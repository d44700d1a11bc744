/** Runs cleanup steps on normal exit, on errors and on Ctrl-C, so no server or temp dir outlives a run. */

const steps = new Set<() => void>();
let installed = false;

/**
 * Registers a synchronous cleanup step; it runs at most once, on process exit
 * or on SIGINT/SIGTERM. Returns a function that runs it now and unregisters it.
 *
 * Steps are synchronous because neither the `unload` event nor a signal
 * handler about to exit can wait for promises.
 *
 * @example
 * ```ts
 * const dir = Deno.makeTempDirSync();
 * const release = registerCleanup(() => Deno.removeSync(dir, { recursive: true }));
 * release(); // removes the dir now
 * ```
 */
export function registerCleanup(step: () => void): () => void {
  install();
  let done = false;
  const once = () => {
    if (done) return;
    done = true;
    steps.delete(once);
    try {
      step();
    } catch (err) {
      console.error(
        `cleanup failed: ${err instanceof Error ? err.message : err}`,
      );
    }
  };
  steps.add(once);
  return once;
}

/**
 * Runs every registered step, newest first (so a server stops before its dir goes).
 *
 * @example
 * ```ts
 * registerCleanup(() => console.error("bye"));
 * runCleanups(); // prints "bye"; a second call prints nothing
 * ```
 */
export function runCleanups(): void {
  for (const step of [...steps].reverse()) step();
}

function install() {
  if (installed) return;
  installed = true;
  globalThis.addEventListener("unload", runCleanups);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => {
      console.error(`\n${signal}: stopping`);
      runCleanups();
      Deno.exit(signal === "SIGINT" ? 130 : 143);
    });
  }
}
